//! [`DataError`]: a known `data_type` whose data is not the shape the spec gives it.

/// The data of a `data_type` the spec lists (or a callback's transaction) is not the shape the
/// spec gives it.
///
/// Its message names the type and where reading stopped (the path of fields and indexes),
/// never serde's own text, which can quote values of the body; that text is in
/// [`Self::source`], for a caller that chooses to show it. `Debug` shows the same as the
/// message, so `{:?}` in a log quotes nothing from the body either.
#[derive(thiserror::Error)]
#[error("the {data_type} data is not the shape the spec gives it: reading stopped at `{path}`")]
pub struct DataError {
    /// The `data_type` (`Transaction` for a callback's body).
    pub data_type: String,
    /// Where reading stopped: field names and array indexes from the top of the data, joined
    /// by `.` (e.g. `source.addresses[0]`); `.` for the top itself.
    pub path: String,
    /// What serde found there (its message can quote values of the body).
    #[source]
    pub source: serde_json::Error,
}

impl DataError {
    pub(crate) fn new(
        data_type: impl Into<String>,
        error: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        Self {
            data_type: data_type.into(),
            path: error.path().to_string(),
            source: error.into_inner(),
        }
    }
}

impl std::fmt::Debug for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataError")
            .field("data_type", &self.data_type)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
