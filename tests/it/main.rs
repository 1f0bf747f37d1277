//! Integration tests: one binary, so one throwaway PostgreSQL cluster serves
//! every test in the run (see `helpers`).

mod cli;
mod database;
mod helpers;
mod pages_and_errors;
mod schema;
mod service;
