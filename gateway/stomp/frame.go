package stomp

// Header is one header line of a frame, decoded (escapes already undone).
type Header struct{ Key, Value string }

// Frame is one STOMP frame. Headers keep wire order and may repeat, because STOMP lets a header
// repeat and says the first occurrence wins; Get and Lookup follow that rule, and relaying code
// that copies Headers keeps the repeats for whoever reads them next.
//
// Frames produced by the Parser keep their header strings in one allocation per frame, so a
// string kept for long (a subscription id, say) holds that frame's header block in memory; it is
// bounded by Limits, and strings.Clone detaches it where that matters.
type Frame struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named key, or "" when there is none.
func (f *Frame) Get(key string) string {
	v, _ := f.Lookup(key)
	return v
}

// Lookup returns the value of the first header named key and whether there is one, for headers
// where empty and absent mean different things (an empty receipt, say).
func (f *Frame) Lookup(key string) (string, bool) {
	for _, h := range f.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

// Add appends a header, after any with the same name: the earlier one keeps winning.
func (f *Frame) Add(key, value string) {
	f.Headers = append(f.Headers, Header{Key: key, Value: value})
}

// Set gives key the single value value: it replaces the first occurrence in place, removes any
// later repeats (so no stale copy survives a relay), or appends when there is none.
func (f *Frame) Set(key, value string) {
	found := false
	n := 0
	for _, h := range f.Headers {
		if h.Key == key {
			if found {
				continue
			}
			found = true
			h.Value = value
		}
		f.Headers[n] = h
		n++
	}
	clear(f.Headers[n:])
	f.Headers = f.Headers[:n]
	if !found {
		f.Add(key, value)
	}
}

// Del removes every header named key, e.g. a client-supplied copy of a header the gateway stamps.
func (f *Frame) Del(key string) {
	n := 0
	for _, h := range f.Headers {
		if h.Key != key {
			f.Headers[n] = h
			n++
		}
	}
	clear(f.Headers[n:])
	f.Headers = f.Headers[:n]
}
