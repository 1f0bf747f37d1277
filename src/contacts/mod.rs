//! Introductions instead of exposed addresses: a member asks to be
//! introduced with a short message; the other accepts (both then receive
//! each other's address by mail) or ignores it, which the asker never learns.

pub mod api;
pub mod emails;
pub mod store;
pub mod web;
