package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// fetcher makes one provider's outbound calls, bounded in time and size.
// The JWKS and discovery fetches use it directly; the remote validators
// through caller, which adds their error classes and call counters.
type fetcher struct {
	client  *http.Client // from newClient
	timeout time.Duration
	maxBody int64
}

// answer is a provider's HTTP answer, read in full (bounded).
type answer struct {
	status int
	header http.Header
	body   []byte
}

// fetch sends req under the call deadline (the earlier of ctx's and
// timeout) and reads the whole answer, at most maxBody bytes (security
// catalogue H3, J1). Any failure to get a complete answer is an error;
// its text never contains the URL (it may carry a token or a secret in its
// query) or the body. The status is the caller's to judge.
func (f *fetcher) fetch(ctx context.Context, req *http.Request) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := f.client.Do(req.WithContext(ctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(body)) > f.maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", f.maxBody)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// object decodes the answer strictly (decodeStrict): a duplicate member
// name, invalid UTF-8, trailing data or anything but a JSON object is
// refused. A duplicate member is reported wrapping errDuplicateMember (an
// ambiguous answer, which callers may treat as a verdict rather than an
// outage). The content type decides nothing: identity providers label
// JSON in many ways, so the body is judged on its merits, and the content
// type is only named when the body is not a JSON object.
func (a *answer) object() (map[string]any, error) {
	obj, err := decodeStrict(bytes.TrimSpace(a.body))
	switch {
	case err == nil:
		return obj, nil
	case errors.Is(err, errDuplicateMember):
		return nil, fmt.Errorf("ambiguous answer: %w", err)
	default:
		return nil, fmt.Errorf("answer is not a json object (content-type %q)", truncate(a.header.Get("Content-Type")))
	}
}
