// Package pgbench measures hookkit's PostgreSQL outbox (sender.Sender on
// sender/pgstore) side by side with a bare http.Client loop (the floor, no
// durability) and River v0.51.2 (riverpgxv5, one job per delivery), in one run,
// against PostgreSQL and a webhook endpoint on loopback.
//
// The endpoint runs in a child process (this test binary re-executed), so the
// CPU time reported for each contender (getrusage of this process) is the
// sender side only; PostgreSQL's CPU is the sum of utime+stime of every
// postgres process (/proc/<pid>/stat) before and after each phase.
//
// Run it (20k events; HOOKKIT_PGBENCH_N=2000 for a quick run):
//
//	cd internal/peers && HOOKKIT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  HOOKKIT_PGBENCH_N=20000 go test -run TestSideBySide -v -timeout 20m ./pgbench/
//
// HOOKKIT_PGBENCH_ROUNDS=3 lets the contenders take turns three times and reports
// the median round of each (the machine is shared: single runs vary by ±30 %).
// HOOKKIT_PGBENCH_ONLY=hookkit runs hookkit alone (for -cpuprofile);
// HOOKKIT_PGBENCH_BATCH sets the Sender's Config.BatchSize (default: its own
// default, 32 for the 32 workers used here); HOOKKIT_PGBENCH_OUT=file also
// writes the table to a file.
// Without HOOKKIT_PGBENCH_N only a small smoke run (TestSmoke) executes.
package pgbench
