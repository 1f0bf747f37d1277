//! SQL written by hand, with its binds, whose prepared statement each
//! connection keeps.
//!
//! Diesel never caches `sql_query`: it cannot know how many texts a caller
//! builds. Then PostgreSQL parses and plans the statement anew on every
//! call, which for the directory's searches cost as much as running them.
//! A caller that builds only a bounded number of texts (the directory: one
//! per shape of search, never a value in the text) uses this instead, and
//! Diesel's statement cache keys it by its text.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::QueryResult;

/// SQL text with binds where they are written (each becomes `$n`).
pub struct PreparedSql<'f> {
    pieces: Vec<Piece<'f>>,
}

enum Piece<'f> {
    Sql(String),
    Bind(Box<dyn QueryFragment<Pg> + Send + 'f>),
}

struct Bind<T, V> {
    value: V,
    sql_type: PhantomData<T>,
}

impl<T, V> QueryFragment<Pg> for Bind<T, V>
where
    Pg: HasSqlType<T>,
    V: ToSql<T, Pg>,
{
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        pass.push_bind_param::<T, V>(&self.value)
    }
}

impl<'f> PreparedSql<'f> {
    pub fn new(sql: &str) -> Self {
        Self {
            pieces: vec![Piece::Sql(sql.to_string())],
        }
    }

    /// Appends text. It must never hold a value: each distinct text is a
    /// statement every connection keeps.
    pub fn sql(mut self, sql: &str) -> Self {
        match self.pieces.last_mut() {
            Some(Piece::Sql(text)) => text.push_str(sql),
            _ => self.pieces.push(Piece::Sql(sql.to_string())),
        }
        self
    }

    /// Writes the next `$n`, bound to `value`.
    pub fn bind<T, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<T>,
        V: ToSql<T, Pg> + Send + 'f,
        T: Send + 'f,
    {
        self.pieces.push(Piece::Bind(Box::new(Bind {
            value,
            sql_type: PhantomData::<T>,
        })));
        self
    }
}

impl QueryFragment<Pg> for PreparedSql<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(text) => out.push_sql(text),
                Piece::Bind(bind) => bind.walk_ast(out.reborrow())?,
            }
        }
        Ok(())
    }
}

/// No static id: the cache keys the statement by its text.
impl QueryId for PreparedSql<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for PreparedSql<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for PreparedSql<'_> {}
