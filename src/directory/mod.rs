//! The members' directory: active members who chose to be listed, found by
//! name (fuzzy, every word) and filtered by country, year, university and
//! exchange programme; each field shown only as its owner allows. The
//! visibility rules live in the SQL of `store`, so no page or endpoint can
//! show what a member hid.

pub mod api;
pub mod store;
pub mod web;
