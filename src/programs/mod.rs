//! Exchange programmes: the catalogue the board keeps, the records members
//! keep of the ones they took part in, and the board's verification of them.

pub mod api;
pub mod model;
pub mod store;
pub mod web;
