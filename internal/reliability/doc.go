// Package reliability holds hookkit's crash and fault suites: tests that kill
// producer and consumer processes at random moments, break the network between
// a sender and its endpoint or its database, and take a receiver's idempotency
// store away, then check that nothing was lost and nothing processed twice.
//
// The package's only non-test code is Proxy, an in-process TCP proxy that can
// cut every connection through it, refuse new ones, or hold (blackhole) the
// bytes of every connection for a while.
//
// The suites need PostgreSQL and Redis:
//
//	HOOKKIT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	HOOKKIT_TEST_REDIS=redis://127.0.0.1:6379/0 \
//	go test -race ./internal/reliability/...
//
// Crash tests re-execute the test binary as the producer or consumer child
// (HOOKKIT_RELIABILITY_CHILD selects the role). Set HOOKKIT_RELIABILITY_SEED to
// replay the kill moments and fault draws of a logged run.
package reliability
