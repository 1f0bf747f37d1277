//! Announcements: the board's news, published at once or at a set time,
//! read on `/announcements`, and mailed as bulk mail (with one-click
//! unsubscribe) to the members who take it.

pub mod api;
pub mod model;
pub mod store;
pub mod web;
