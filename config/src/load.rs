//! Reading a file and the environment into a [`Config`], with errors that say where.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::Config;

/// Prefix of environment overrides: `WATCHPOST__SECTION__KEY`; `__` separates the levels.
pub const ENV_PREFIX: &str = "WATCHPOST__";

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default value"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the offending value came from.
    pub origin: Origin,
    /// Dotted key path (`media.on_demand.linger`, `cameras[1].main_url`); empty when the
    /// problem is with the file as a whole.
    pub key: String,
    /// Why it is wrong, in words an operator can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

/// The configuration could not be used; lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Loads the configuration: defaults, then `file` if given, then `WATCHPOST__…` variables
/// from the process environment, then validation.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_with_env(file, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (tests, `check-config`).
/// Variables without the [`ENV_PREFIX`] are ignored.
pub fn load_with_env(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut sources = Sources {
        file: file.map(Path::to_path_buf),
        file_table: Table::new(),
        env_keys: Vec::new(),
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            single(
                Origin::File(path.into()),
                "",
                format!("cannot read the file: {e}"),
            )
        })?;
        sources.file_table =
            parse_table(&text).map_err(|m| single(Origin::File(path.into()), "", m))?;
    }

    let mut merged = sources.file_table.clone();
    let mut problems = Vec::new();
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (var, raw) in env {
        match apply_env(&mut merged, &var, &raw) {
            Ok(key) => sources.env_keys.push((key, var)),
            Err(message) => problems.push(Problem {
                origin: Origin::Env(var),
                key: String::new(),
                message,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }

    let config: Config = serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let message = e.into_inner().message().trim().to_owned();
        single(sources.origin_of(&key), &key, message)
    })?;

    config.validate_keys().map_err(|issues| ConfigError {
        problems: issues
            .into_iter()
            .map(|(key, message)| Problem {
                origin: sources.origin_of(&key),
                key,
                message,
            })
            .collect(),
    })?;
    Ok(config)
}

fn single(origin: Origin, key: &str, message: String) -> ConfigError {
    ConfigError {
        problems: vec![Problem {
            origin,
            key: key.to_owned(),
            message,
        }],
    }
}

/// Parses TOML text into a table; a syntax error reads "line L, column C: message".
fn parse_table(text: &str) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| {
        let message = e.message().trim().to_owned();
        match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: {message}")
            }
            None => message,
        }
    })
}

/// Sets `WATCHPOST__A__B=value` as `a.b = value` in `table`; returns the dotted key.
fn apply_env(table: &mut Table, var: &str, raw: &str) -> Result<String, String> {
    let segments: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    if segments.iter().any(String::is_empty) {
        return Err(
            "expected WATCHPOST__SECTION__KEY, with non-empty parts separated by `__`".into(),
        );
    }
    let (last, parents) = segments
        .split_last()
        .expect("split yields at least one segment");
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(t) => t,
            _ => {
                return Err(format!(
                    "`{}` is not a section; lists such as `[[cameras]]` can only be set in the file",
                    segments[..=depth].join(".")
                ));
            }
        };
    }
    current.insert(last.clone(), env_value(raw));
    Ok(segments.join("."))
}

/// Reads an environment value as a TOML value when it is one (`8080`, `true`, `["a", "b"]`,
/// `"quoted"`), otherwise as a plain string (`10s`, `0.0.0.0:8080`).
fn env_value(raw: &str) -> Value {
    #[derive(Deserialize)]
    struct Wrapper {
        v: Value,
    }
    match toml::from_str::<Wrapper>(&format!("v = {raw}")) {
        Ok(w) if !matches!(w.v, Value::Datetime(_)) => w.v,
        _ => Value::String(raw.to_owned()),
    }
}

struct Sources {
    file: Option<PathBuf>,
    file_table: Table,
    /// Dotted keys set from the environment, with the variable that set each.
    env_keys: Vec<(String, String)>,
}

impl Sources {
    /// Which source a key's value came from: the environment variable that set it (or one of
    /// its parents), else the file if the file has it, else the default.
    fn origin_of(&self, key: &str) -> Origin {
        let plain = strip_indices(key);
        for (env_key, var) in &self.env_keys {
            if plain == *env_key || plain.starts_with(&format!("{env_key}.")) {
                return Origin::Env(var.clone());
            }
        }
        match &self.file {
            Some(path) if key.is_empty() || file_has(&self.file_table, key) => {
                Origin::File(path.clone())
            }
            _ => Origin::Default,
        }
    }
}

/// `cameras[1].main_url` → `cameras.main_url`.
fn strip_indices(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether the file's table holds `key` (dotted, with `[i]` list indices).
fn file_has(table: &Table, key: &str) -> bool {
    let mut current = Some(table);
    let mut value: Option<&Value> = None;
    for part in key.split('.') {
        let mut pieces = part.split('[');
        let name = pieces.next().unwrap_or_default();
        let Some(found) = current.and_then(|t| t.get(name)) else {
            return false;
        };
        let mut found = found;
        for index in pieces {
            let index = index.trim_end_matches(']').parse::<usize>().ok();
            match (found, index) {
                (Value::Array(a), Some(i)) if i < a.len() => found = &a[i],
                _ => return false,
            }
        }
        value = Some(found);
        current = found.as_table();
    }
    value.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_typed_when_they_can_be() {
        assert_eq!(env_value("8080"), Value::Integer(8080));
        assert_eq!(env_value("true"), Value::Boolean(true));
        assert_eq!(env_value("10s"), Value::String("10s".into()));
        assert_eq!(env_value("0.0.0.0:80"), Value::String("0.0.0.0:80".into()));
        assert_eq!(env_value("\"x y\""), Value::String("x y".into()));
        assert_eq!(env_value("2024-01-01"), Value::String("2024-01-01".into()));
        assert!(matches!(env_value("[\"a\", \"b\"]"), Value::Array(a) if a.len() == 2));
    }

    #[test]
    fn strip() {
        assert_eq!(strip_indices("cameras[1].main_url"), "cameras.main_url");
        assert_eq!(strip_indices("a.b"), "a.b");
    }
}
