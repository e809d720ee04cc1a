package httpapi

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Query parameters of pagination.
const (
	pageParam     = "page"
	pageSizeParam = "page_size"
)

// page is one page of a list: which one, of how many, how large.
type page struct {
	number int // from 1
	count  int // number of pages, at least 1
	size   int
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
	at := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		if n == 1 {
			v.Del(pageParam)
		} else {
			v.Set(pageParam, strconv.Itoa(n))
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	var links []string
	add := func(n int, rel string) {
		links = append(links, fmt.Sprintf("<%s>; rel=%q", at(n), rel))
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
