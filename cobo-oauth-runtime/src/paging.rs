//! [`Paged`]: a list operation's request that can be sent again for the next page.
//!
//! Cobo's list operations page with cursors: they take the query parameters `after` (and
//! `before`, `limit`) and answer `{data: [...], pagination: {before, after, total_count}}`,
//! where an empty `after` means the last page. The generator implements [`Paged`] for the
//! request builder of every operation of a generated client that has this shape (a query
//! parameter `after` of type string, and a success answer with a `data` array and a
//! `pagination` object whose `after` is a string), so that `cobo-oauth`'s
//! `CoboClient::items` and `CoboClient::pages` can follow the cursor for any of them.

use std::future::Future;

use progenitor_client::{Error, ResponseValue};

/// The request of a list operation that pages with Cobo's `after` cursor (implemented by the
/// generated glue for each such operation's builder).
pub trait Paged: Clone + Send + Sized {
    /// The answer of one page.
    type Page: Send;
    /// One item of a page (an element of its `data`).
    type Item: Send;
    /// The operation's error body type, as in its `send`.
    type Error: Send;

    /// The same request, asking for the page after `cursor`.
    fn after(self, cursor: String) -> Self;

    /// Sends the request (the builder's own `send`).
    fn send(
        self,
    ) -> impl Future<Output = Result<ResponseValue<Self::Page>, Error<Self::Error>>> + Send;

    /// The items of `page`, and its `after` cursor (`None` when it is empty: the last page).
    fn split(page: Self::Page) -> (Vec<Self::Item>, Option<String>);
}

/// The cursor of the next page from a `pagination.after` value: `None` when it is empty, as
/// Cobo marks the last page. For the generated glue, which may see `String` or
/// `Option<String>` depending on whether the spec requires the field.
pub fn next_cursor(after: impl Into<Option<String>>) -> Option<String> {
    after.into().filter(|cursor| !cursor.is_empty())
}

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn an_empty_or_missing_after_ends_the_pages() {
        assert_eq!(next_cursor("c2".to_owned()), Some("c2".to_owned()));
        assert_eq!(next_cursor(String::new()), None);
        assert_eq!(next_cursor(None), None);
        assert_eq!(next_cursor(Some(String::new())), None);
    }
}
