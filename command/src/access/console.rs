//! Operators' console settings: one private document per user ([`ConsoleSettings`]: the
//! video grid, favourite cameras, small UI preferences), stored in
//! `access_console_settings` (migration `202611300302_console_settings.sql`).
//!
//! The document names cameras by inventory id only ([`CameraId`]'s syntax, checked for
//! form): the store never reads the inventory, and a camera the user can no longer see
//! stays in the document until the user saves again — the console simply does not show
//! it. Settings are personal and change often (every grid edit), so their writes are not
//! audited; they grant nothing and reveal nothing beyond what their own user wrote.

use serde::{Deserialize, Serialize};

use super::model::UserId;
use super::store::{AccessStore, bad, not_found, text};
use super::{AccessError, Entity, FieldError, UnixMs};
use crate::domain::quote;
use crate::storage::Arg;
use crate::storage::sql::{RecordReader, RowRead, Tx, fetch_optional};
use crate::walls::CameraId;

/// The grid layouts the console offers: 1, 2 × 2, 1 + 5, 1 + 7, 3 × 3, 4 × 4 tiles.
pub const CONSOLE_LAYOUTS: [u32; 6] = [1, 4, 6, 8, 9, 16];
/// The most grid slots a document keeps (the largest layout's tile count; slots beyond
/// the current layout's are kept for when the operator switches back).
pub const MAX_CONSOLE_SLOTS: usize = 16;
/// The most favourite cameras a user keeps.
pub const MAX_FAVOURITES: usize = 200;
/// The console languages.
pub const CONSOLE_LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// The console's video grid: a layout and what each tile shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleGrid {
    /// Tile count of the layout: one of 1, 4, 6, 8, 9, 16.
    #[schema(example = 9)]
    pub layout: u32,
    /// What each tile shows, in tile order: a camera's inventory id or `null` (empty).
    /// At most 16; slots past the layout's tile count are kept, not shown.
    #[serde(default)]
    pub slots: Vec<Option<String>>,
}

impl Default for ConsoleGrid {
    fn default() -> Self {
        ConsoleGrid {
            layout: 4,
            slots: Vec::new(),
        }
    }
}

/// One user's console settings, saved whole (`PUT /api/v1/auth/me/console`). Fields
/// left out of a saved document take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// The video grid (default: 2 × 2, empty).
    #[serde(default)]
    pub grid: ConsoleGrid,
    /// Favourite cameras' inventory ids, in the user's order; at most 200, no duplicates.
    #[serde(default)]
    pub favourites: Vec<String>,
    /// Play with the smallest jitter buffer (lower delay, less smoothing).
    #[serde(default)]
    pub low_latency: bool,
    /// Show each tile's stream statistics over the video.
    #[serde(default)]
    pub stats_overlay: bool,
    /// The console's language, `zh-CN` or `en`; absent: the browser's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "zh-CN")]
    pub language: Option<String>,
}

impl ConsoleSettings {
    /// Every problem of the document, in field order (`grid.layout`,
    /// `grid.slots[3]`, `favourites[0]`, `language`); empty when it is valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !CONSOLE_LAYOUTS.contains(&self.grid.layout) {
            errors.push(bad(
                "grid.layout",
                format!(
                    "{} is not a console layout: one of 1, 4, 6, 8, 9, 16",
                    self.grid.layout
                ),
            ));
        }
        if self.grid.slots.len() > MAX_CONSOLE_SLOTS {
            errors.push(bad(
                "grid.slots",
                format!(
                    "{} slots: at most {MAX_CONSOLE_SLOTS}",
                    self.grid.slots.len()
                ),
            ));
        }
        for (i, slot) in self.grid.slots.iter().enumerate() {
            if let Some(id) = slot
                && let Err(reason) = CameraId::parse(id)
            {
                errors.push(bad(&format!("grid.slots[{i}]"), reason));
            }
        }
        if self.favourites.len() > MAX_FAVOURITES {
            errors.push(bad(
                "favourites",
                format!(
                    "{} favourites: at most {MAX_FAVOURITES}",
                    self.favourites.len()
                ),
            ));
        }
        for (i, id) in self.favourites.iter().enumerate() {
            if let Err(reason) = CameraId::parse(id) {
                errors.push(bad(&format!("favourites[{i}]"), reason));
            } else if self.favourites[..i].contains(id) {
                errors.push(bad(
                    &format!("favourites[{i}]"),
                    format!("{} is listed twice", quote(id)),
                ));
            }
        }
        if let Some(language) = &self.language
            && !CONSOLE_LANGUAGES.contains(&language.as_str())
        {
            errors.push(bad(
                "language",
                format!("{} is not a console language: zh-CN or en", quote(language)),
            ));
        }
        errors
    }
}

/// A user's console settings as stored, with their revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsoleSettings {
    /// The document (the defaults when the user never saved).
    pub settings: ConsoleSettings,
    /// 0 when nothing is saved; 1 after the first save, +1 per save.
    pub revision: i64,
    /// When last saved, Unix ms; `None` when nothing is saved.
    pub updated_at: Option<UnixMs>,
}

impl AccessStore {
    /// The console settings of user `user`: the saved document, or the defaults at
    /// revision 0 when the user never saved. Does not check that the user exists.
    ///
    /// Errors: [`AccessError::Corrupt`] when the stored document does not decode or
    /// validate (written by hand or by a newer version).
    pub async fn console_settings(
        &self,
        user: &UserId,
    ) -> Result<StoredConsoleSettings, AccessError> {
        let action = format!("reading the console settings of user {user}");
        let found = fetch_optional(
            self.database(),
            "SELECT user_id, document, updated_at, revision FROM access_console_settings \
             WHERE user_id = $1",
            vec![text(user.as_str())],
            settings_from_row,
            self.db_err(&action),
        )
        .await?;
        Ok(found.unwrap_or(StoredConsoleSettings {
            settings: ConsoleSettings::default(),
            revision: 0,
            updated_at: None,
        }))
    }

    /// Saves `settings` as user `user`'s console settings at `now` (Unix ms), replacing
    /// the whole document, and returns them with their new revision.
    ///
    /// `expected` is the revision the caller based its change on (0: "nothing saved
    /// yet"); `None` saves unconditionally. Saves of one user run one after the other
    /// (the user's row is locked first), so two consoles never both win.
    ///
    /// Not audited: the settings are the user's own and grant nothing.
    ///
    /// Errors: [`AccessError::Invalid`] listing every invalid field;
    /// [`AccessError::NotFound`] when there is no such user;
    /// [`AccessError::PreconditionFailed`] when `expected` is not the stored revision.
    pub async fn put_console_settings(
        &self,
        user: &UserId,
        settings: &ConsoleSettings,
        expected: Option<i64>,
        now: UnixMs,
    ) -> Result<StoredConsoleSettings, AccessError> {
        let errors = settings.validate();
        if !errors.is_empty() {
            return Err(AccessError::invalid(
                Entity::ConsoleSettings,
                Some(user.as_str()),
                errors,
            ));
        }
        let document = serde_json::to_string(settings).map_err(|e| AccessError::Corrupt {
            what: Entity::ConsoleSettings,
            id: user.to_string(),
            column: "document",
            reason: format!("cannot encode: {e}"),
        })?;
        let action = format!("saving the console settings of user {user}");
        let mut tx = Tx::begin(self.database())
            .await
            .map_err(self.db_err(&action))?;
        let result = async {
            let lock = format!(
                "SELECT id FROM access_users WHERE id = $1{}",
                tx.for_update()
            );
            let exists = tx
                .fetch_optional(
                    &lock,
                    vec![text(user.as_str())],
                    |r| r.text("id").map_err(self.db_err(&action)),
                    self.db_err(&action),
                )
                .await?;
            if exists.is_none() {
                return Err(not_found(Entity::User, user.as_str()));
            }
            let select = format!(
                "SELECT revision FROM access_console_settings WHERE user_id = $1{}",
                tx.for_update()
            );
            let stored = tx
                .fetch_optional(
                    &select,
                    vec![text(user.as_str())],
                    |r| r.int("revision").map_err(self.db_err(&action)),
                    self.db_err(&action),
                )
                .await?;
            let actual = stored.unwrap_or(0);
            if let Some(expected) = expected
                && expected != actual
            {
                return Err(AccessError::PreconditionFailed {
                    what: Entity::ConsoleSettings,
                    id: user.to_string(),
                    expected,
                    actual,
                });
            }
            let revision = actual + 1;
            let args = vec![
                text(&document),
                Arg::Int(now),
                Arg::Int(revision),
                text(user.as_str()),
            ];
            if stored.is_some() {
                tx.execute(
                    "UPDATE access_console_settings SET document = $1, updated_at = $2, \
                     revision = $3 WHERE user_id = $4",
                    args,
                )
                .await
                .map_err(self.db_err(&action))?;
            } else {
                tx.execute(
                    "INSERT INTO access_console_settings (document, updated_at, revision, \
                     user_id) VALUES ($1, $2, $3, $4)",
                    args,
                )
                .await
                .map_err(self.db_err(&action))?;
            }
            Ok(revision)
        }
        .await;
        let revision = tx.finish(result, self.db_err(&action), &action).await?;
        tracing::debug!(user = %user, revision, "console settings saved");
        Ok(StoredConsoleSettings {
            settings: settings.clone(),
            revision,
            updated_at: Some(now),
        })
    }
}

fn settings_from_row(row: &dyn RowRead) -> Result<StoredConsoleSettings, AccessError> {
    let r = RecordReader::new(row, "user_id", |id, column, reason| AccessError::Corrupt {
        what: Entity::ConsoleSettings,
        id: id.to_owned(),
        column,
        reason,
    })?;
    let settings: ConsoleSettings = r.json("document")?;
    if let Some(first) = settings.validate().first() {
        return Err(r.corrupt("document", first.to_string()));
    }
    Ok(StoredConsoleSettings {
        settings,
        updated_at: Some(r.int("updated_at")?),
        revision: r.int("revision")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &ConsoleSettings) -> Vec<String> {
        s.validate().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn defaults_are_valid_and_fill_left_out_fields() {
        assert!(ConsoleSettings::default().validate().is_empty());
        let s: ConsoleSettings = serde_json::from_str(r#"{"grid":{"layout":9}}"#).unwrap();
        assert_eq!(s.grid.layout, 9);
        assert!(s.grid.slots.is_empty() && s.favourites.is_empty() && s.language.is_none());
        assert!(serde_json::from_str::<ConsoleSettings>(r#"{"colour":"red"}"#).is_err());
    }

    #[test]
    fn every_bad_field_is_named() {
        let s = ConsoleSettings {
            grid: ConsoleGrid {
                layout: 5,
                slots: vec![Some("cam-1".into()), None, Some("Bad Id".into())],
            },
            favourites: vec![
                "cam-1".into(),
                "cam-2".into(),
                "cam-1".into(),
                "../x".into(),
            ],
            low_latency: true,
            stats_overlay: false,
            language: Some("fr".into()),
        };
        assert_eq!(
            fields(&s),
            [
                "grid.layout",
                "grid.slots[2]",
                "favourites[2]",
                "favourites[3]",
                "language"
            ]
        );
        let too_many = ConsoleSettings {
            grid: ConsoleGrid {
                layout: 16,
                slots: vec![None; 17],
            },
            favourites: (0..=MAX_FAVOURITES).map(|i| format!("cam-{i}")).collect(),
            ..ConsoleSettings::default()
        };
        assert_eq!(fields(&too_many), ["grid.slots", "favourites"]);
    }
}
