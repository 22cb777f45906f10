//! One integration-test binary (faster to link than one per file); each module is a topic.

mod support;

mod audit;
mod cli;
mod daemon;
mod engine;
mod escalation;
mod examples;
mod generated;
mod golden;
mod graph;
mod graph_contract;
mod graph_engine;
mod input;
mod notify;
mod notify_transport;
mod policy;
mod population;
mod report;
mod schema;
mod scim;
mod stages;
mod web;
mod web_pages;
