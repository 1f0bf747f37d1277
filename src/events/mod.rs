//! Events: the board drafts, publishes, changes and cancels them; members
//! answer within capacity (with a waitlist), import them into calendars, and
//! are reminded the day before.

pub mod api;
pub mod emails;
pub mod ics;
pub mod model;
pub mod store;
pub mod web;
