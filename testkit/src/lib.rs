//! What Recert's tests and benchmarks share, so that a benchmark measures exactly what a test
//! checks and neither keeps a copy of the other's code:
//!
//! - [`graph_server`]: the Microsoft Graph-compatible test server on loopback (the Graph tests
//!   and `benches/graph.rs`);
//! - [`manifests`]: a uniform set of reviews over a large embedded directory (the engine and
//!   daemon benchmarks, and the test of a pass over several batches);
//! - [`corpus`]: a varied repository of valid manifests (`benches/validate.rs`, and the test
//!   that `recert validate` accepts all of it);
//! - [`bench`]: the benchmarks' shared command-line arguments and work folder;
//! - [`peers`]: the notification tests' SMTP server and webhook receiver, one per test.

pub mod bench;
pub mod corpus;
pub mod graph_server;
pub mod manifests;
pub mod peers;
