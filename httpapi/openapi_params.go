package httpapi

// Query parameters of the list endpoints, for the API documentation. They
// describe what the handlers and filter.go read; the tests of the filters
// are what keep the behaviour honest, these keep the documentation whole.
var (
	resourceListQuery = []paramSpec{
		{Name: "name", Description: "Case-insensitive substring of the name."},
		{Name: "sha1", Description: "Case-insensitive substring of the sha1."},
		{Name: "dtype", Description: "Case-insensitive substring of the datatype's name."},
		{Name: "created_by", Description: "Case-insensitive substring of the creator's username."},
		{Name: "location", Description: "Case-insensitive substring of the name of an archive holding the resource."},
		{Name: "scheme", Description: "Case-insensitive prefix of the scheme of an archive holding the resource."},
		{Name: "created_on", Description: "Instant of creation, to the microsecond: a date-time YYYY-MM-DDTHH:MM[:SS[.ffffff]] (T or a space; zone Z, +HH, +HHMM or +HH:MM, send + as %2B; no zone is UTC), or a date YYYY-MM-DD, its midnight UTC. A served created_on finds its resource."},
		{Name: "created_on__year", Description: "Year of creation (UTC), 1 to 9999.", Type: "integer"},
		{Name: "created_on__range", Description: "Created from FROM to TO, both included to the microsecond: FROM,TO, each written as for created_on (a date is its midnight)."},
		{Name: "metadata__<key>", Description: "Metadata at <key> (a path: a__b) equals the value; numbers compare as numbers, true/false match booleans."},
		{Name: "metadata__<key>__<lookup>", Description: "Metadata lookup: exact, neq, iexact, contains, icontains, startswith, istartswith, endswith, iendswith, gt, gte, lt, lte, in (comma-separated), isnull (true/false). Any other lookup is a 400."},
		{Name: pageParam, Description: "Page number from 1, or last. A page past the end is a 404."},
		{Name: pageSizeParam, Description: "Resources per page, at most 1000.", Type: "integer"},
		{Name: afterParam, Description: "Start after this resource name (what next links carry, so that deep pages stay fast)."},
	}
	archiveListQuery = []paramSpec{
		{Name: "name", Description: "Case-insensitive prefix of the name."},
		{Name: "scheme", Description: "Case-insensitive prefix of the scheme."},
		{Name: "root", Description: "Case-insensitive exact root."},
		{Name: "accessibility", Description: "local, remote or offline (or 0, 1, 2)."},
	}
)
