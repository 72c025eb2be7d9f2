package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/seed992c72d9/streams/query"
)

const queryUsage = `usage: streams query [--server [https://]host:port] [--ca file] [--cert file --key file] <request> [args]

The bearer token, if the server asks for one, is read from the environment
variable named by --token-env (STREAMS_QUERY_TOKEN).

requests:
  stores                          list the queryable stores
  get <store> <key>               one key of a key-value store
  range <store> [from] [to]       scan a key range (every page; --limit sets the page size)
  windows <store> <key>           a key's windows (--from, --to in ms)
  sessions <store> <key>          a key's sessions
  metadata                        instances and the tasks they hold
  topology                        the topology description
  health | ready                  /healthz, /readyz
`

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", stderr)
	server := fs.String("server", "localhost:8080", "address of any instance's query server")
	limit := fs.Int("limit", 100, "page size of range scans")
	from := fs.String("from", "", "start of the time range of windows and sessions (ms)")
	to := fs.String("to", "", "end of the time range of windows and sessions (ms)")
	sec := addQueryClientFlags(fs)
	fs.Usage = func() { fmt.Fprint(stderr, queryUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("no request given")
	}
	base, hc, err := sec.client(*server)
	if err != nil {
		return err
	}
	get := func(ctx context.Context, u string) ([]byte, error) { return getWith(ctx, hc, u) }
	getJSON := func(ctx context.Context, w io.Writer, u string) error { return writeJSON(ctx, hc, w, u) }
	getText := func(ctx context.Context, w io.Writer, u string) error { return writeText(ctx, hc, w, u) }
	need := func(n int) error {
		if len(rest)-1 != n {
			return fmt.Errorf("%s takes %d argument(s), got %d", rest[0], n, len(rest)-1)
		}
		return nil
	}
	timeRange := func() string {
		q := url.Values{}
		if *from != "" {
			q.Set("from", *from)
		}
		if *to != "" {
			q.Set("to", *to)
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + q.Encode()
	}
	switch rest[0] {
	case "stores":
		return getJSON(ctx, stdout, base+"/v1/stores")
	case "metadata":
		return getJSON(ctx, stdout, base+"/v1/metadata")
	case "topology":
		return getText(ctx, stdout, base+"/v1/topology")
	case "health":
		return getText(ctx, stdout, base+"/healthz")
	case "ready":
		return getText(ctx, stdout, base+"/readyz")
	case "get":
		if err := need(2); err != nil {
			return err
		}
		return getJSON(ctx, stdout, base+"/v1/stores/"+query.EscapeSegment(rest[1])+"/keys/"+query.EscapeSegment(rest[2]))
	case "windows", "sessions":
		if err := need(2); err != nil {
			return err
		}
		return getJSON(ctx, stdout, base+"/v1/stores/"+query.EscapeSegment(rest[1])+"/"+rest[0]+"/"+query.EscapeSegment(rest[2])+timeRange())
	case "range":
		if len(rest) < 2 || len(rest) > 4 {
			return fmt.Errorf("range takes a store and optional from and to keys")
		}
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if len(rest) > 2 && rest[2] != "" {
			q.Set("from", rest[2])
		}
		if len(rest) > 3 && rest[3] != "" {
			q.Set("to", rest[3])
		}
		for {
			var page struct {
				Items []json.RawMessage `json:"entries"`
				Next  string            `json:"next"`
			}
			body, err := get(ctx, base+"/v1/stores/"+query.EscapeSegment(rest[1])+"/range?"+q.Encode())
			if err != nil {
				return err
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return fmt.Errorf("reading the range page: %w", err)
			}
			for _, it := range page.Items {
				fmt.Fprintln(stdout, string(it))
			}
			if page.Next == "" {
				return nil
			}
			q.Set("token", page.Next)
		}
	}
	fs.Usage()
	return fmt.Errorf("unknown request %q", rest[0])
}

// getWith returns the body of a successful GET, or an error with the
// server's answer.
func getWith(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func writeJSON(ctx context.Context, hc *http.Client, w io.Writer, u string) error {
	body, err := getWith(ctx, hc, u)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		_, err = w.Write(body)
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

func writeText(ctx context.Context, hc *http.Client, w io.Writer, u string) error {
	body, err := getWith(ctx, hc, u)
	if err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}
