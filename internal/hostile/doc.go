// Package hostile holds hookkit's cross-package overload and hostile-input
// suites. It has no code of its own: its tests drive the public packages
// (sender, receiver, signature, event, retry) and the SSRF guard together.
//
// The suites:
//
//   - Overload: a receiver at saturation with a tiny hand-off queue is
//     flooded with signed requests (503 with Retry-After for the overflow,
//     nothing accepted and then lost, memory bounded, no goroutine left
//     behind); a sender holds 100,000 pending deliveries to a dead endpoint
//     while a healthy endpoint's latency is measured with and without them.
//   - Hostile peers: a flood of forged requests (other keys, near misses,
//     replays outside the tolerance, 1,000-entry headers) for event ids a
//     genuine sender uses next claims none of them; oversized and endless
//     bodies are not read past the limit; a customer's endpoint answering
//     with endless or huge bodies, bytes that are not UTF-8, absurd
//     Retry-After values or huge headers cannot hold or bloat the sender.
//   - SSRF: endpoint URLs resolving into every refused address range, DNS
//     rebinding, redirects toward private addresses and IPv6 forms that embed
//     IPv4 addresses are refused before any connection is made. Fake
//     resolvers only; no traffic ever leaves loopback.
//   - Secrets: a full sender and receiver scenario with slog at Debug level
//     (JSON and text), after which no secret appears in the logs, errors,
//     attempt log or the printed forms of endpoints and keys.
//   - Timing: signature comparison is constant time; a structural test and
//     BenchmarkVerifyPrefixMatch show the work does not depend on how much of
//     a forged signature matches.
//
// The figures these tests log (t.Logf) are collected in RELIABILITY.md.
package hostile
