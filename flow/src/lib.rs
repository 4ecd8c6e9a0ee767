//! # rpdk-flow
//!
//! An rte_flow-like rule engine: patterns, actions, validate/create/destroy, testpmd's flow syntax, and a software classifier.
//!
//! **Not built yet.** This crate reserves its place in the workspace; a later issue fills it. It
//! exports nothing, so nothing can depend on behaviour it does not have.
