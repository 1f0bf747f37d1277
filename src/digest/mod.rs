//! Digests: what is new, mailed on each member's rhythm, exactly once per
//! period (DESIGN.md, mechanism 5).

pub mod api;
pub mod emails;
pub mod period;
pub mod run;
pub mod schedule;
pub mod web;
