//! Recert runs privileged-access reviews as code.
//!
//! Reviews (`AccessReview`) and reviewers' decisions (`ReviewDecisions`) are YAML documents in
//! Git. [`load`] reads and validates them, reporting every problem as a [`diag::Diagnostic`]
//! with file, line, column and field. The published JSON Schema comes from [`schema`], which
//! generates it from the types in [`model`].

pub mod audit;
pub mod cli;
pub mod codeowners;
pub mod context;
pub mod daemon;
pub mod decision_log;
pub mod diag;
pub mod directory;
pub mod edit;
pub mod error;
pub mod execute;
pub mod fsutil;
pub mod journal;
pub mod load;
pub mod model;
pub mod notify;
pub mod population;
pub mod printable;
pub mod query;
pub mod reconcile;
pub mod regular_file;
pub mod report;
pub mod schema;
pub mod source;
pub mod state;
pub mod status;
pub mod store;
pub mod web;
pub mod yaml;
