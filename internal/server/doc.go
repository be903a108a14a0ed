// Package server is paybridge's HTTP front: the Gin engine, the middleware
// every request goes through, the JSON error format, liveness, readiness and
// Prometheus endpoints, and the shopper-facing HTML pages (English and
// Arabic).
//
// Platform packages add their routes by implementing [Routes] and being
// passed to [Server.Mount]; they report failures with [Error] or [Wrap] and
// [WriteError], read request bodies with [ReadBody] or [ReadJSON], and show
// shoppers a result with [RenderPage] and [ShopperPage].
//
// Every request passes through, in order:
//
//  1. request id: accept a well-formed X-Request-Id or make one, echo it and
//     put it (and a logger carrying it) in the request context, so that all
//     that follows, including the 413, 500 and 404 answers, can name it;
//  2. security headers (X-Content-Type-Options: nosniff);
//  3. metrics and access log, which wrap everything below so that they see
//     the status actually sent, including the 500 written by recovery;
//  4. panic recovery, which turns a panic below it into a 500 JSON error;
//  5. body limit (Config.MaxBodyBytes), which refuses an announced oversized
//     body before any handler runs and caps the rest while they read;
//  6. request timeout (Config.RequestTimeout), a deadline on the request
//     context, innermost so that it measures handler time only.
package server
