//! Notifications: the outbox, rendering, transports and delivery.
//!
//! The pure engine decides who is told what (`Effect::Notify`); the pass turns each decision
//! into [`message::Message`]s in the review's outbox, saved with its state before anything is
//! sent. Delivery runs beside the passes and records each outcome; the next pass folds the
//! outcomes into the state, the status and the audit trail.

pub mod message;
pub mod config;
pub mod render;
pub mod transport;
