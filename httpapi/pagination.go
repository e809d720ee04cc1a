package httpapi

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"nbreg/registry"
)

// Query parameters of pagination. afterParam is nbreg's addition: the
// next link of a list ordered by name carries the last name of the page it
// came from, so that the following page is found by seeking the name index
// rather than by skipping every earlier match. Clients follow the link
// verbatim; ?page=N alone still works.
const (
	pageParam     = "page"
	pageSizeParam = "page_size"
	afterParam    = "after"
)

// page is one page of a list: which one, of how many, how large.
type page struct {
	number int // from 1
	count  int // number of pages, at least 1
	size   int
	// nextAfter, when set, goes into the next link as afterParam.
	nextAfter string
}

// window is how a store reads page p of total items: Offset and Limit
// counted from the start, or, for a page in the second half of the list,
// from the end (FromEnd), so that no page costs a skip over more than half
// the list, and the last page costs what the first does.
func (p page) window(total int) (offset, limit int, fromEnd bool) {
	start := p.offset()
	if start == 0 || start <= total/2 {
		return start, p.size, false
	}
	end := min(start+p.size, total)
	return total - end, max(end-start, 1), true
}

// msgBadCursor refuses an after parameter that is not a resource name.
const msgBadCursor = "Invalid cursor: follow the page links as given."

// resourceCursor returns the after parameter of a resource list: the name
// the page starts after, or "" when there is none. It is a 400 naming the
// parameter when it cannot be a resource name.
func resourceCursor(q url.Values) (string, error) {
	after, ok := q[afterParam]
	if !ok {
		return "", nil
	}
	if len(after) != 1 || !registry.IsSlug(after[0]) || len(after[0]) > registry.MaxResourceName {
		return "", registry.FieldError(registry.EINVALID, afterParam, msgBadCursor)
	}
	return after[0], nil
}

func (p page) offset() int { return (p.number - 1) * p.size }

// paginate picks the page q asks for among total items, with the page size
// q asks for (up to MaxPageSize; defaultSize otherwise). A page that is not
// a number or lies past the end is errInvalidPage; the first page of an
// empty list exists.
func paginate(q url.Values, total, defaultSize int) (page, error) {
	p := page{size: defaultSize}
	if v, err := strconv.Atoi(strings.TrimSpace(q.Get(pageSizeParam))); err == nil && v > 0 {
		p.size = min(v, MaxPageSize)
	}
	p.count = max(1, (total+p.size-1)/p.size)
	switch v := strings.TrimSpace(q.Get(pageParam)); v {
	case "":
		p.number = 1
	case "last":
		p.number = p.count
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > p.count {
			return page{}, errInvalidPage
		}
		p.number = n
	}
	return p, nil
}

// linkHeader returns the Link header of p in the GitHub style, with
// absolute URLs built on base (scheme, host and path as the client came)
// that keep every other query parameter, or "" when the list has one page.
func (p page) linkHeader(base string, q url.Values) string {
	at := func(n int, rel string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Del(afterParam)
		if n == 1 {
			v.Del(pageParam)
		} else {
			v.Set(pageParam, strconv.Itoa(n))
		}
		query := v.Encode()
		if rel == "next" && p.nextAfter != "" {
			// Last, so that the link reads as the plain ?page=N link with
			// the cursor added.
			query += "&" + afterParam + "=" + url.QueryEscape(p.nextAfter)
		}
		if query == "" {
			return base
		}
		return base + "?" + query
	}
	var links []string
	add := func(n int, rel string) {
		links = append(links, fmt.Sprintf("<%s>; rel=%q", at(n, rel), rel))
	}
	if p.number > 1 {
		add(1, "first")
		add(p.number-1, "prev")
	}
	if p.number < p.count {
		add(p.number+1, "next")
		add(p.count, "last")
	}
	return strings.Join(links, ", ")
}
