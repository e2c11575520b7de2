package stomp

import "testing"

func TestFrameHeaderEditing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(f *Frame)
		want *Frame
	}{
		{
			name: "Add keeps the earlier value winning",
			edit: func(f *Frame) { f.Add("ack", "3") },
			want: frame(CmdMessage, "", "ack", "1", "x", "y", "ack", "2", "ack", "3"),
		},
		{
			name: "Set replaces the first and drops repeats",
			edit: func(f *Frame) { f.Set("ack", "9") },
			want: frame(CmdMessage, "", "ack", "9", "x", "y"),
		},
		{
			name: "Set appends a missing header",
			edit: func(f *Frame) { f.Set("receipt-id", "r") },
			want: frame(CmdMessage, "", "ack", "1", "x", "y", "ack", "2", "receipt-id", "r"),
		},
		{
			name: "Del removes every copy of a client-supplied header",
			edit: func(f *Frame) { f.Del("ack") },
			want: frame(CmdMessage, "", "x", "y"),
		},
		{
			name: "Del of a missing header changes nothing",
			edit: func(f *Frame) { f.Del("nope") },
			want: frame(CmdMessage, "", "ack", "1", "x", "y", "ack", "2"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := frame(CmdMessage, "", "ack", "1", "x", "y", "ack", "2")
			tc.edit(f)
			if !sameFrame(f, tc.want, false) {
				t.Fatalf("got %s, want %s", showFrame(f), showFrame(tc.want))
			}
		})
	}
}

func TestFrameLookupOnEmptyFrame(t *testing.T) {
	t.Parallel()
	var f Frame
	if v, ok := f.Lookup(HdrID); ok || v != "" {
		t.Fatalf("Lookup on an empty frame = %q, %v", v, ok)
	}
	if v := f.Get(HdrID); v != "" {
		t.Fatalf("Get on an empty frame = %q", v)
	}
}

func TestVersionNames(t *testing.T) {
	t.Parallel()
	for _, v := range []Version{V10, V11, V12} {
		got, ok := ParseVersion(v.String())
		if !ok || got != v {
			t.Errorf("ParseVersion(%q) = %v, %v, want %v", v.String(), got, ok, v)
		}
	}
	for _, s := range []string{"", "1", "1.3", "2.0", " 1.2", "1.2,1.1"} {
		if v, ok := ParseVersion(s); ok {
			t.Errorf("ParseVersion(%q) accepted %v", s, v)
		}
	}
	if s := Version(0).String(); s != "Version(0)" {
		t.Errorf("Version(0).String() = %q", s)
	}
}

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	want := Limits{MaxFrameBytes: 4 << 20, MaxHeaders: 100, MaxHeaderLineBytes: 8 << 10, MaxBodyBytes: 4 << 20}
	if l != want {
		t.Fatalf("DefaultLimits() = %+v, want %+v", l, want)
	}
	if got := (Limits{MaxFrameBytes: 1000}).withDefaults().MaxBodyBytes; got != 1000 {
		t.Fatalf("MaxBodyBytes defaults to %d, want MaxFrameBytes 1000", got)
	}
}
