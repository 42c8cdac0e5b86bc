// Package binpages trims the part of a process's resident memory that is
// its own executable: the code, read-only data and function tables of the
// parley binary (about 55 MB) mapped from the file.
//
// Start-up (package initialisers, configuration, key and database checks,
// migrations) runs code scattered over the whole binary, and for every
// page it touches the kernel maps its neighbours as well (fault-around,
// 64 KiB at a time). A node that had just started kept about 33 MiB of
// the binary resident, most of it code and tables it does not run again.
// Trim, called once when start-up is done, drops those mappings; the
// pages stay in the page cache, so nothing is read from disk again, and
// what the node goes on to run is mapped back when it runs it. Only
// private read-only mappings holding nothing but the file's pages are
// dropped: never the binary's writable data, nor read-only data the
// dynamic loader wrote relocations into (position-independent builds),
// nor code a debugger changed.
package binpages
