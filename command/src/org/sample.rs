//! The sample ledger: fictional command centres, units and enterprises across Beijing's
//! districts, shipped in `fixtures/ledger/` for the demo and the tests (see the README
//! there; every name, phone number and credit code in it is invented).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::import::{ImportMode, ImportReport, RowError};
use super::{OrgError, Organisation, UnixMs};

/// The three files of a sample ledger, as text (JSON arrays of [`super::CentreInput`],
/// [`super::UnitInput`] and [`super::EnterpriseInput`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleLedger {
    /// `centres.json`: the city centre first, then districts, then streets.
    pub centres: String,
    /// `units.json`.
    pub units: String,
    /// `enterprises.json`.
    pub enterprises: String,
}

impl SampleLedger {
    /// The file names in a sample directory, in loading order.
    pub const FILES: [&'static str; 3] = ["centres.json", "units.json", "enterprises.json"];

    /// The sample shipped in `fixtures/ledger/`, compiled into the binary (about 60 KB),
    /// so that the demo needs no file at run time.
    pub fn embedded() -> SampleLedger {
        SampleLedger {
            centres: include_str!("../../../fixtures/ledger/centres.json").to_owned(),
            units: include_str!("../../../fixtures/ledger/units.json").to_owned(),
            enterprises: include_str!("../../../fixtures/ledger/enterprises.json").to_owned(),
        }
    }

    /// Reads [`SampleLedger::FILES`] from `dir`; [`OrgError::SampleFile`] names the file
    /// that could not be read.
    pub fn read_dir(dir: &Path) -> Result<SampleLedger, OrgError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| OrgError::SampleFile {
                path: path.display().to_string(),
                source,
            })
        };
        Ok(SampleLedger {
            centres: read(Self::FILES[0])?,
            units: read(Self::FILES[1])?,
            enterprises: read(Self::FILES[2])?,
        })
    }
}

/// What [`load_sample`] did, per file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleReport {
    /// `centres.json`.
    pub centres: ImportReport,
    /// `units.json`.
    pub units: ImportReport,
    /// `enterprises.json`.
    pub enterprises: ImportReport,
}

impl SampleReport {
    /// Every row error, with its file name, in file and line order.
    pub fn errors(&self) -> impl Iterator<Item = (&'static str, &RowError)> {
        let [c, u, e] = SampleLedger::FILES;
        (self.centres.errors.iter().map(move |r| (c, r)))
            .chain(self.units.errors.iter().map(move |r| (u, r)))
            .chain(self.enterprises.errors.iter().map(move |r| (e, r)))
    }

    /// Whether every row was created or skipped.
    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }

    /// How many records were created, in all three files.
    pub fn created(&self) -> usize {
        self.centres.created.len() + self.units.created.len() + self.enterprises.created.len()
    }
}

/// Loads `sample` into `org` at `now_ms`: centres, then units, then enterprises, each row
/// in its own transaction, in [`ImportMode::Skip`] — records that exist already (a demo
/// started again on the same database) are kept as they are, with any changes made since.
///
/// Fails only when a file is not a JSON array ([`OrgError::JsonSyntax`] naming it); row
/// problems are in the report ([`SampleReport::is_clean`]).
pub async fn load_sample(
    org: &Organisation,
    now_ms: UnixMs,
    sample: &SampleLedger,
) -> Result<SampleReport, OrgError> {
    let [centres, units, enterprises] = SampleLedger::FILES;
    let mode = ImportMode::Skip;
    let report = SampleReport {
        centres: org
            .import_centres_json(&sample.centres, centres, mode, now_ms)
            .await?,
        units: org
            .import_units_json(&sample.units, units, mode, now_ms)
            .await?,
        enterprises: org
            .import_enterprises_json(&sample.enterprises, enterprises, mode, now_ms)
            .await?,
    };
    for (file, error) in report.errors() {
        tracing::warn!(file, %error, "sample ledger row not loaded");
    }
    tracing::info!(
        created = report.created(),
        clean = report.is_clean(),
        "sample ledger loaded"
    );
    Ok(report)
}
