// Package registry is the domain of nbreg: the records a lab keeps about
// its resources (datatypes, archives, resources and their locations, users),
// the rules those records obey, and the Store interface that every storage
// backend implements.
//
// The package imports no other package of nbreg. Storage (sqlstore), HTTP
// (httpapi) and the command line (cmd) depend on it, never the reverse.
package registry
