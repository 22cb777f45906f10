//! The SCIM directory against a real third-party SCIM server (scim2-server, from PyPI) on
//! loopback: the library's client where request counts matter, and the whole engine through
//! the binary.

mod directory;
mod engine;
mod escalation;
mod peer;
