package relaytest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
)

// ManagementURL is the test broker's management API, where guest is an
// administrator; `make test` enables rabbitmq_management.
const ManagementURL = "http://127.0.0.1:15672"

// Permissions are a RabbitMQ user's regular expressions in one vhost.
type Permissions struct {
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// TopicPermission is a user's topic permission on one exchange.
type TopicPermission struct {
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

// User creates RabbitMQ user name (the run's prefix is added) with
// password pass, its permissions in vhost "/" (none when perms is nil)
// and topic permissions, and deletes it when the test ends. It returns
// the user's name.
func (r *Rabbit) User(name, pass string, perms *Permissions, topics ...TopicPermission) string {
	t := r.T
	t.Helper()
	name = r.Prefix + name
	user := "/api/users/" + url.PathEscape(name)
	r.api(http.MethodPut, user, map[string]string{"password": pass, "tags": ""})
	t.Cleanup(func() { r.api(http.MethodDelete, user, nil) })
	if perms != nil {
		r.api(http.MethodPut, "/api/permissions/%2F/"+url.PathEscape(name), perms)
	}
	for _, tp := range topics {
		r.api(http.MethodPut, "/api/topic-permissions/%2F/"+url.PathEscape(name), tp)
	}
	return name
}

// api calls the management API as guest, failing the test unless it
// succeeds.
func (r *Rabbit) api(method, path string, body any) {
	t := r.T
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, ManagementURL+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("management API %s %s: %v (is rabbitmq_management enabled? `make test` enables it)", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("management API %s %s: %s", method, path, resp.Status)
	}
}
