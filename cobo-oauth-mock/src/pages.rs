//! A list operation answered a page at a time, as Cobo pages: `limit` items from the cursor
//! `after`, with `{data, pagination: {before, after, total_count}}`.

use serde_json::{Value, json};

use super::reply::Reply;

/// Cobo's default page size (the spec's `limitParam` default).
pub(crate) const DEFAULT_LIMIT: usize = 10;
/// The largest `limit` any of Cobo's list operations takes (the spec's `limit500Param`).
pub(crate) const MAX_LIMIT: usize = 500;

/// The items of a list operation, served a page at a time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PagedList {
    pub items: Vec<Value>,
}

/// The cursor naming the item at `index`: opaque to the client, like Cobo's object IDs.
fn cursor(index: usize) -> String {
    format!("mock-cursor-{index}")
}

/// The item index a cursor of [`cursor`] names.
fn index_of(cursor: &str) -> Option<usize> {
    cursor.strip_prefix("mock-cursor-")?.parse().ok()
}

impl PagedList {
    /// The page `query` (as received) asks for: its `limit` (default [`DEFAULT_LIMIT`], 1 to
    /// [`MAX_LIMIT`]) items after the cursor `after` (none: from the first). A `limit` or an
    /// `after` the mock did not issue is Cobo's 400 with `error_code` 2006.
    pub fn page(&self, query: &str) -> Reply {
        let mut limit = DEFAULT_LIMIT;
        let mut start = 0;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                    _ => return Reply::cobo(400, 2006, "limit must be between 1 and 500"),
                },
                "after" if !value.is_empty() => match index_of(&value) {
                    Some(index) if index <= self.items.len() => start = index,
                    _ => return Reply::cobo(400, 2006, "after is not a cursor of this list"),
                },
                _ => {}
            }
        }
        let end = (start + limit).min(self.items.len());
        let before = if start == 0 {
            String::new()
        } else {
            cursor(start)
        };
        let after = if end == self.items.len() {
            String::new()
        } else {
            cursor(end)
        };
        Reply::ok(json!({
            "data": &self.items[start..end],
            "pagination": {"before": before, "after": after, "total_count": self.items.len()},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(list: &PagedList, query: &str) -> Value {
        let reply = list.page(query);
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str(&reply.body).unwrap_or_default()
    }

    #[test]
    fn pages_follow_the_after_cursor_to_an_empty_one() {
        let list = PagedList {
            items: (0..5).map(Value::from).collect(),
        };
        let first = page(&list, "limit=2");
        assert_eq!(first["data"], json!([0, 1]));
        assert_eq!(first["pagination"]["before"], "");
        assert_eq!(first["pagination"]["total_count"], 5);
        let after = first["pagination"]["after"].as_str().unwrap_or_default();
        let second = page(&list, &format!("limit=2&after={after}"));
        assert_eq!(second["data"], json!([2, 3]));
        let after = second["pagination"]["after"].as_str().unwrap_or_default();
        let last = page(&list, &format!("after={after}&limit=2"));
        assert_eq!(last["data"], json!([4]));
        assert_eq!(last["pagination"]["after"], "");
        assert_eq!(page(&list, "")["data"], json!([0, 1, 2, 3, 4]));
    }

    #[test]
    fn a_bad_limit_or_cursor_is_refused() {
        let list = PagedList { items: Vec::new() };
        assert_eq!(list.page("limit=0").status, 400);
        assert_eq!(list.page("limit=501").status, 400);
        assert_eq!(list.page("after=someone-elses").status, 400);
        assert_eq!(list.page("after=mock-cursor-1").status, 400);
    }
}
