// Package receiverbench measures hookkit's receiver side by side with a
// bare net/http handler and a hand-built receiver on the Standard Webhooks
// reference Go library, over loopback with keep-alive clients. It has no
// API; run:
//
//	cd internal/peers && go test -run '^$' -bench BenchmarkLoopback -benchtime 40000x ./receiverbench/
//
// See /work/plan/bench-receiver.md (BENCHMARKS.md) for figures.
package receiverbench
