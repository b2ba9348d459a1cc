//! [`IncidentStore`]: incidents, intake reports, dispatch tasks and the timeline in the
//! command database (see the module documentation for the layout and the locking).

use serde::Serialize;
use serde_json::{Value, json};

use super::model::{
    DEFAULT_LIMIT, Evidence, IncidentFilter, IncidentPage, IntakeReport, MAX_LIMIT, NewReport,
    ReportFilter, ReportPage, Stored, TimelineEntry, TimelineKind, check_operator, invalid,
};
use super::{Entity, StoreError};
use crate::Database;
use crate::domain::{
    AccidentGrade, DomainError, FieldError, Incident, IncidentCommand, IncidentEvent, IncidentId,
    IncidentRecord, NewIncident, ReportId, Task, TaskId, TaskRecord, TaskState, UnitId, UnixMs,
};
use crate::storage::sql::{
    Conditions, Page, RecordReader, RowRead, Tx, check_limit, fetch_all, fetch_optional,
};
use crate::storage::{Arg, EmbeddedMigration};

/// The incident tables' migrations: (version, description, SQL), in version order. The
/// files live in `command/migrations/` (`<version>_<description>.sql`); a unit test checks
/// that this list and the folder's `2026112902NN` files agree. Never edit an applied
/// migration: sqlx stores its checksum and refuses to start when it changes.
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[(
    202611290201,
    "incidents",
    include_str!("../../migrations/202611290201_incidents.sql"),
)];

/// The incident columns written besides `id`, in [`incident_args`] order.
const INCIDENT_COLUMNS: [&str; 14] = [
    "state",
    "grade",
    "incident_type",
    "exercise",
    "district",
    "street",
    "enterprise_id",
    "occurred_at",
    "opened_at",
    "updated_at",
    "closed_at",
    "report_due_at",
    "revision",
    "record",
];

/// The task columns written besides `id`, in [`task_args`] order.
const TASK_COLUMNS: [&str; 7] = [
    "incident_id",
    "unit_id",
    "state",
    "notified_at",
    "updated_at",
    "revision",
    "record",
];

const SELECT_INCIDENT: &str = "SELECT id, revision, record FROM incidents";
const SELECT_TASK: &str = "SELECT id, revision, record FROM dispatch_tasks";
const SELECT_REPORT: &str = "SELECT id, recorded_at, recorded_by, incident_id, linked_at, \
     linked_by, record FROM intake_reports";
const SELECT_ENTRY: &str =
    "SELECT id, incident_id, at, operator, kind, content FROM incident_timeline";

/// Incidents, intake reports, dispatch tasks and their timeline, over the command
/// [`Database`]. Cheap to clone (a pool handle). `Debug` shows the redacted URL.
///
/// Every write is one transaction: it checks, calls the domain, writes the records and
/// appends the timeline entries, and commits — or writes nothing. A write that returned
/// `Ok` is committed durably.
#[derive(Clone)]
pub struct IncidentStore {
    db: Database,
}

impl std::fmt::Debug for IncidentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentStore")
            .field("database", &self.db.redacted_url())
            .finish()
    }
}

/// A timeline entry before it has an id.
struct NewEntry {
    kind: TimelineKind,
    at: UnixMs,
    content: Value,
}

impl IncidentStore {
    /// Opens the store on `db`, creating or upgrading its tables (embedded migrations
    /// `2026112902NN`, sharing `_sqlx_migrations` with the other modules).
    pub async fn open(db: Database) -> Result<IncidentStore, StoreError> {
        crate::storage::migrate(&db, MIGRATIONS)
            .await
            .map_err(|source| StoreError::Migrate {
                url: db.redacted_url().to_owned(),
                source,
            })?;
        Ok(IncidentStore { db })
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    // ----- incidents -------------------------------------------------------------------

    /// Opens an incident (id `inc-N`, revision 1, state `new`) at `at` (Unix ms), by
    /// `operator` (1 to 128 characters). Returns it with its `opened` timeline entry.
    ///
    /// Errors: [`StoreError::Domain`] with [`DomainError::Invalid`] listing every invalid
    /// field of `new` or `operator`; [`StoreError::Database`].
    pub async fn open_incident(
        &self,
        new: NewIncident,
        operator: &str,
        at: UnixMs,
    ) -> Result<(Stored<Incident>, Vec<TimelineEntry>), StoreError> {
        check_operator(operator).map_err(|e| StoreError::domain("new incident", e))?;
        let action = "opening an incident";
        let mut tx = self.begin(action).await?;
        let result = self.open_in(&mut tx, new, operator, at, action).await;
        let (incident, entries) = self.finish(tx, result, action).await?;
        tracing::info!(incident = %incident.value.id(), operator, "incident opened");
        Ok((incident, entries))
    }

    async fn open_in(
        &self,
        tx: &mut Tx,
        new: NewIncident,
        operator: &str,
        at: UnixMs,
        action: &str,
    ) -> Result<(Stored<Incident>, Vec<TimelineEntry>), StoreError> {
        let n = self.advance(tx, "incident", 1, action).await?;
        let id = generated_id(IncidentId::parse(&format!("inc-{n}")), Entity::Incident)?;
        let (incident, events) =
            Incident::open(id, new, at).map_err(|e| StoreError::domain("new incident", e))?;
        let mut args = vec![Arg::Text(Some(incident.id().to_string()))];
        args.extend(incident_args(&incident, 1)?);
        let placeholders: Vec<String> = (1..=args.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO incidents (id, {}) VALUES ({})",
            INCIDENT_COLUMNS.join(", "),
            placeholders.join(", ")
        );
        tx.execute(&sql, args).await.map_err(self.db_err(action))?;
        let entries = event_entries(events, incident.opened_at(), incident.id())?;
        let entries = self
            .append(tx, incident.id(), operator, entries, action)
            .await?;
        Ok((
            Stored {
                value: incident,
                revision: 1,
            },
            entries,
        ))
    }

    /// Applies `command` to incident `id` at `at` (Unix ms) for `operator`, in one
    /// transaction: locks the incident, checks `expected_revision` (when given), counts
    /// its open tasks, lets the domain decide ([`Incident::apply`]), writes the record
    /// with the revision + 1 and appends one timeline entry per event, stamped with the
    /// time the change took effect ([`Incident::updated_at`]).
    ///
    /// A command that changes nothing (the same figures again) writes nothing and returns
    /// the incident at its current revision with no entries. Concurrent applies to one
    /// incident run one after the other; none is lost.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`]; [`StoreError::PreconditionFailed`];
    /// [`StoreError::Domain`] with the domain's refusal ([`DomainError::Closed`],
    /// [`DomainError::OpenTasks`], [`DomainError::Invalid`], …); [`StoreError::Database`].
    pub async fn apply(
        &self,
        id: &IncidentId,
        command: IncidentCommand,
        operator: &str,
        at: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<(Stored<Incident>, Vec<TimelineEntry>), StoreError> {
        let subject = format!("incident {id}");
        check_operator(operator).map_err(|e| StoreError::domain(&subject, e))?;
        let action = format!(
            "applying {} to incident {id}",
            super::command_name(&command)
        );
        let mut tx = self.begin(&action).await?;
        let result = self
            .apply_in(
                &mut tx,
                id,
                command,
                operator,
                at,
                expected_revision,
                &action,
            )
            .await;
        let (incident, entries) = self.finish(tx, result, &action).await?;
        if !entries.is_empty() {
            tracing::info!(
                incident = %id,
                revision = incident.revision,
                operator,
                changes = entries.len(),
                "incident changed"
            );
        }
        Ok((incident, entries))
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_in(
        &self,
        tx: &mut Tx,
        id: &IncidentId,
        command: IncidentCommand,
        operator: &str,
        at: UnixMs,
        expected_revision: Option<i64>,
        action: &str,
    ) -> Result<(Stored<Incident>, Vec<TimelineEntry>), StoreError> {
        let Stored {
            value: mut incident,
            revision,
        } = self.lock_incident(tx, id, action).await?;
        if let Some(expected) = expected_revision
            && expected != revision
        {
            return Err(StoreError::PreconditionFailed {
                what: Entity::Incident,
                id: id.to_string(),
                expected,
                actual: revision,
            });
        }
        let open_tasks = self.count_open_tasks(tx, id, action).await?;
        let events = incident
            .apply(command, at, open_tasks)
            .map_err(|e| StoreError::domain(format!("incident {id}"), e))?;
        if events.is_empty() {
            return Ok((
                Stored {
                    value: incident,
                    revision,
                },
                Vec::new(),
            ));
        }
        let revision = revision + 1;
        let mut args = vec![Arg::Text(Some(id.to_string()))];
        args.extend(incident_args(&incident, revision)?);
        let sets: Vec<String> = INCIDENT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 2))
            .collect();
        let sql = format!("UPDATE incidents SET {} WHERE id = $1", sets.join(", "));
        tx.execute(&sql, args).await.map_err(self.db_err(action))?;
        let entries = event_entries(events, incident.updated_at(), id)?;
        let entries = self.append(tx, id, operator, entries, action).await?;
        Ok((
            Stored {
                value: incident,
                revision,
            },
            entries,
        ))
    }

    /// Incident `id` at its current revision, or [`StoreError::NotFound`].
    pub async fn get(&self, id: &IncidentId) -> Result<Stored<Incident>, StoreError> {
        let sql = format!("{SELECT_INCIDENT} WHERE id = $1");
        let action = format!("reading incident {id}");
        fetch_optional(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            incident_from_row,
            self.db_err(&action),
        )
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Incident, id.as_str()))
    }

    /// The incidents matching `filter`, most recently opened first, one page at a time,
    /// with the total.
    ///
    /// Errors: [`StoreError::Domain`] with [`DomainError::Invalid`] naming `limit` (above
    /// [`MAX_LIMIT`]) or `opened_to` (before `opened_from`); [`StoreError::Database`].
    pub async fn list(&self, filter: &IncidentFilter) -> Result<IncidentPage, StoreError> {
        invalid(filter.validate()).map_err(|e| StoreError::domain("incident filter", e))?;
        let mut c = Conditions::default();
        if let Some(state) = filter.state {
            c.add("state = ?", text(&name(&state)));
        }
        match filter.open {
            Some(true) => c.add_plain("state <> 'closed'"),
            Some(false) => c.add_plain("state = 'closed'"),
            None => {}
        }
        if let Some(grade) = filter.grade {
            c.add("grade = ?", text(&name(&grade)));
        }
        if let Some(min) = filter.min_grade {
            let below: Vec<AccidentGrade> = AccidentGrade::ALL
                .into_iter()
                .filter(|g| *g < min)
                .collect();
            for grade in below {
                c.add("grade <> ?", text(&name(&grade)));
            }
        }
        if let Some(kind) = filter.incident_type {
            c.add("incident_type = ?", text(&name(&kind)));
        }
        if let Some(district) = &filter.district {
            c.add("district = ?", text(district));
        }
        if let Some(street) = &filter.street {
            c.add("street = ?", text(street));
        }
        if let Some(exercise) = filter.exercise {
            c.add("exercise = ?", Arg::Bool(exercise));
        }
        if let Some(enterprise) = &filter.enterprise_id {
            c.add("enterprise_id = ?", text(enterprise));
        }
        if let Some(from) = filter.opened_from {
            c.add("opened_at >= ?", Arg::Int(from));
        }
        if let Some(to) = filter.opened_to {
            c.add("opened_at < ?", Arg::Int(to));
        }
        if let Some(before) = filter.report_due_before {
            c.add("report_due_at < ?", Arg::Int(before));
        }
        let (where_clause, args) = c.build();
        let count_sql = format!("SELECT COUNT(*) AS n FROM incidents{where_clause}");
        // The filter's limit was checked with the filter.
        let page = Page::unchecked(filter.limit, filter.offset, DEFAULT_LIMIT);
        let (page_sql, page_args) = page.apply(
            &format!("{SELECT_INCIDENT}{where_clause} ORDER BY opened_at DESC, id DESC"),
            &args,
        );
        let action = "listing incidents";
        let total = self.count(&count_sql, args.clone(), action).await?;
        let items = fetch_all(
            &self.db,
            &page_sql,
            page_args,
            incident_from_row,
            self.db_err(action),
        )
        .await?;
        Ok(IncidentPage { items, total })
    }

    // ----- intake reports --------------------------------------------------------------

    /// Records an intake report (id `rep-N`, unlinked) at `at` (Unix ms) by `operator`.
    /// `received_at` defaults to `at`.
    ///
    /// Errors: [`StoreError::Domain`] with [`DomainError::Invalid`] listing every invalid
    /// field ([`NewReport::validate`]) or `operator`; [`StoreError::Database`].
    pub async fn record_report(
        &self,
        mut report: NewReport,
        operator: &str,
        at: UnixMs,
    ) -> Result<IntakeReport, StoreError> {
        let mut errors = report.validate(at);
        if let Err(e) = check_operator(operator) {
            errors.extend(e.field_errors().iter().cloned());
        }
        invalid(errors).map_err(|e| StoreError::domain("intake report", e))?;
        report.received_at = Some(report.received_at.unwrap_or(at));
        let action = "recording an intake report";
        let mut tx = self.begin(action).await?;
        let result = self
            .record_report_in(&mut tx, report, operator, at, action)
            .await;
        let report = self.finish(tx, result, action).await?;
        tracing::info!(report = %report.id, channel = %report.content.channel, operator, "intake report recorded");
        Ok(report)
    }

    async fn record_report_in(
        &self,
        tx: &mut Tx,
        content: NewReport,
        operator: &str,
        at: UnixMs,
        action: &str,
    ) -> Result<IntakeReport, StoreError> {
        let n = self.advance(tx, "report", 1, action).await?;
        let id = generated_id(ReportId::parse(&format!("rep-{n}")), Entity::Report)?;
        let record = encode(&content, Entity::Report, id.as_str())?;
        let received_at = content.received_at.unwrap_or(at);
        tx.execute(
            "INSERT INTO intake_reports (id, channel, received_at, recorded_at, recorded_by, \
             incident_id, linked_at, linked_by, record) \
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, NULL, $6)",
            vec![
                text(id.as_str()),
                text(content.channel.as_str()),
                Arg::Int(received_at),
                Arg::Int(at),
                text(operator),
                Arg::Text(Some(record)),
            ],
        )
        .await
        .map_err(self.db_err(action))?;
        Ok(IntakeReport {
            id,
            content,
            recorded_at: at,
            recorded_by: operator.to_owned(),
            incident_id: None,
            linked_at: None,
            linked_by: None,
        })
    }

    /// Report `id`, or [`StoreError::NotFound`].
    pub async fn report(&self, id: &ReportId) -> Result<IntakeReport, StoreError> {
        let sql = format!("{SELECT_REPORT} WHERE id = $1");
        let action = format!("reading intake report {id}");
        fetch_optional(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            report_from_row,
            self.db_err(&action),
        )
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Report, id.as_str()))
    }

    /// Links report `report_id` to incident `incident_id` at `at` (Unix ms) for
    /// `operator`, with a `report_linked` timeline entry whose `duplicate` says whether
    /// the incident had reports already (a duplicate attaching). Linking a report to the
    /// incident it is linked to already changes nothing and returns no entry.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`] (incident or report);
    /// [`StoreError::Domain`] with [`DomainError::Closed`] for a closed incident;
    /// [`StoreError::Conflict`] when the report is linked to another incident (a report
    /// links to one incident); [`StoreError::Database`].
    pub async fn link_report(
        &self,
        report_id: &ReportId,
        incident_id: &IncidentId,
        operator: &str,
        at: UnixMs,
    ) -> Result<(IntakeReport, Vec<TimelineEntry>), StoreError> {
        let subject = format!("intake report {report_id}");
        check_operator(operator).map_err(|e| StoreError::domain(&subject, e))?;
        let action = format!("linking intake report {report_id} to incident {incident_id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let incident = self.lock_incident(&mut tx, incident_id, &action).await?;
            incident
                .value
                .check_dispatch()
                .map_err(|e| StoreError::domain(format!("incident {incident_id}"), e))?;
            self.link_in(&mut tx, report_id, incident_id, operator, at, &action)
                .await
        }
        .await;
        let (report, entries) = self.finish(tx, result, &action).await?;
        if !entries.is_empty() {
            tracing::info!(report = %report_id, incident = %incident_id, operator, "intake report linked");
        }
        Ok((report, entries))
    }

    /// Links a report to an incident locked by the caller.
    async fn link_in(
        &self,
        tx: &mut Tx,
        report_id: &ReportId,
        incident_id: &IncidentId,
        operator: &str,
        at: UnixMs,
        action: &str,
    ) -> Result<(IntakeReport, Vec<TimelineEntry>), StoreError> {
        let mut report = self.lock_report(tx, report_id, action).await?;
        match &report.incident_id {
            Some(linked) if linked == incident_id => return Ok((report, Vec::new())),
            Some(linked) => {
                return Err(StoreError::Conflict {
                    what: Entity::Report,
                    id: report_id.to_string(),
                    reason: format!(
                        "is linked to incident {linked} already; a report links to one incident"
                    ),
                });
            }
            None => {}
        }
        let earlier = tx
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM intake_reports WHERE incident_id = $1",
                vec![text(incident_id.as_str())],
                |r| r.int("n").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?
            .unwrap_or(0);
        tx.execute(
            "UPDATE intake_reports SET incident_id = $2, linked_at = $3, linked_by = $4 \
             WHERE id = $1",
            vec![
                text(report_id.as_str()),
                text(incident_id.as_str()),
                Arg::Int(at),
                text(operator),
            ],
        )
        .await
        .map_err(self.db_err(action))?;
        report.incident_id = Some(incident_id.clone());
        report.linked_at = Some(at);
        report.linked_by = Some(operator.to_owned());
        let entry = NewEntry {
            kind: TimelineKind::ReportLinked,
            at,
            content: json!({
                "report_id": report_id,
                "channel": report.content.channel,
                "received_at": report.received_at(),
                "duplicate": earlier > 0,
            }),
        };
        let entries = self
            .append(tx, incident_id, operator, vec![entry], action)
            .await?;
        Ok((report, entries))
    }

    /// Opens an incident from `new` (see [`IntakeReport::draft_incident`]) and links
    /// report `report_id` to it, in one transaction: the entries are `opened` and
    /// `report_linked`.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`] for the report;
    /// [`StoreError::Conflict`] when it is linked already; as
    /// [`open_incident`](Self::open_incident).
    pub async fn create_incident_from_report(
        &self,
        report_id: &ReportId,
        new: NewIncident,
        operator: &str,
        at: UnixMs,
    ) -> Result<(Stored<Incident>, IntakeReport, Vec<TimelineEntry>), StoreError> {
        check_operator(operator).map_err(|e| StoreError::domain("new incident", e))?;
        let action = format!("opening an incident from intake report {report_id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let report = self.lock_report(&mut tx, report_id, &action).await?;
            if let Some(linked) = &report.incident_id {
                return Err(StoreError::Conflict {
                    what: Entity::Report,
                    id: report_id.to_string(),
                    reason: format!(
                        "is linked to incident {linked} already; link further reports to it instead"
                    ),
                });
            }
            let (incident, mut entries) = self.open_in(&mut tx, new, operator, at, &action).await?;
            let (report, linked) = self
                .link_in(
                    &mut tx,
                    report_id,
                    incident.value.id(),
                    operator,
                    at,
                    &action,
                )
                .await?;
            entries.extend(linked);
            Ok((incident, report, entries))
        }
        .await;
        let (incident, report, entries) = self.finish(tx, result, &action).await?;
        tracing::info!(incident = %incident.value.id(), report = %report_id, operator, "incident opened from a report");
        Ok((incident, report, entries))
    }

    /// The reports matching `filter`, oldest received first, one page at a time, with the
    /// total. `linked=false` is the queue of reports waiting for an operator.
    ///
    /// Errors: [`StoreError::Domain`] naming `limit` or `received_to`;
    /// [`StoreError::Database`].
    pub async fn reports(&self, filter: &ReportFilter) -> Result<ReportPage, StoreError> {
        invalid(filter.validate()).map_err(|e| StoreError::domain("report filter", e))?;
        let mut c = Conditions::default();
        if let Some(incident) = &filter.incident_id {
            c.add("incident_id = ?", text(incident.as_str()));
        }
        match filter.linked {
            Some(true) => c.add_plain("incident_id IS NOT NULL"),
            Some(false) => c.add_plain("incident_id IS NULL"),
            None => {}
        }
        if let Some(channel) = filter.channel {
            c.add("channel = ?", text(channel.as_str()));
        }
        if let Some(from) = filter.received_from {
            c.add("received_at >= ?", Arg::Int(from));
        }
        if let Some(to) = filter.received_to {
            c.add("received_at < ?", Arg::Int(to));
        }
        let (where_clause, args) = c.build();
        let count_sql = format!("SELECT COUNT(*) AS n FROM intake_reports{where_clause}");
        // The filter's limit was checked with the filter.
        let page = Page::unchecked(filter.limit, filter.offset, DEFAULT_LIMIT);
        let (page_sql, page_args) = page.apply(
            &format!("{SELECT_REPORT}{where_clause} ORDER BY received_at, id"),
            &args,
        );
        let action = "listing intake reports";
        let total = self.count(&count_sql, args.clone(), action).await?;
        let items = fetch_all(
            &self.db,
            &page_sql,
            page_args,
            report_from_row,
            self.db_err(action),
        )
        .await?;
        Ok(ReportPage { items, total })
    }

    /// Every report linked to incident `id`, oldest received first; errors:
    /// [`StoreError::NotFound`], [`StoreError::Database`].
    pub async fn reports_of(&self, id: &IncidentId) -> Result<Vec<IntakeReport>, StoreError> {
        self.require_incident(id).await?;
        let sql = format!("{SELECT_REPORT} WHERE incident_id = $1 ORDER BY received_at, id");
        let action = format!("listing the reports of incident {id}");
        fetch_all(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            report_from_row,
            self.db_err(&action),
        )
        .await
    }

    // ----- dispatch tasks --------------------------------------------------------------

    /// Dispatches `unit_id` to incident `incident_id` at `at` (Unix ms) for `operator`:
    /// a task `task-N`, notified, revision 1, with a `task_dispatched` timeline entry.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`]; [`StoreError::Domain`] with
    /// [`DomainError::Closed`] for a closed incident or [`DomainError::Invalid`] on
    /// `instructions` / `operator`; [`StoreError::Conflict`] when the unit has an open
    /// task on this incident already; [`StoreError::Database`].
    pub async fn dispatch(
        &self,
        incident_id: &IncidentId,
        unit_id: UnitId,
        instructions: Option<String>,
        operator: &str,
        at: UnixMs,
    ) -> Result<(Stored<Task>, Vec<TimelineEntry>), StoreError> {
        let subject = format!("incident {incident_id}");
        check_operator(operator).map_err(|e| StoreError::domain(&subject, e))?;
        let action = format!("dispatching unit {unit_id} to incident {incident_id}");
        let mut tx = self.begin(&action).await?;
        let result = self
            .dispatch_in(
                &mut tx,
                incident_id,
                unit_id,
                instructions,
                operator,
                at,
                &action,
            )
            .await;
        let (task, entries) = self.finish(tx, result, &action).await?;
        tracing::info!(task = %task.value.id(), incident = %incident_id, unit = %task.value.unit_id(), operator, "unit dispatched");
        Ok((task, entries))
    }

    #[allow(clippy::too_many_arguments)]
    async fn dispatch_in(
        &self,
        tx: &mut Tx,
        incident_id: &IncidentId,
        unit_id: UnitId,
        instructions: Option<String>,
        operator: &str,
        at: UnixMs,
        action: &str,
    ) -> Result<(Stored<Task>, Vec<TimelineEntry>), StoreError> {
        let incident = self.lock_incident(tx, incident_id, action).await?;
        incident
            .value
            .check_dispatch()
            .map_err(|e| StoreError::domain(format!("incident {incident_id}"), e))?;
        let open = tx
            .fetch_optional(
                "SELECT id FROM dispatch_tasks WHERE incident_id = $1 AND unit_id = $2 \
                 AND state <> 'released'",
                vec![text(incident_id.as_str()), text(unit_id.as_str())],
                |r| r.text("id").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?;
        if let Some(open) = open {
            return Err(StoreError::Conflict {
                what: Entity::Incident,
                id: incident_id.to_string(),
                reason: format!(
                    "already has unit {unit_id} on an open task ({open}); \
                     move that task on or release it first"
                ),
            });
        }
        let n = self.advance(tx, "task", 1, action).await?;
        let id = generated_id(TaskId::parse(&format!("task-{n}")), Entity::Task)?;
        let task = Task::notify(id, incident_id.clone(), unit_id, instructions, at)
            .map_err(|e| StoreError::domain(format!("incident {incident_id}"), e))?;
        let mut args = vec![text(task.id().as_str())];
        args.extend(task_args(&task, 1)?);
        let placeholders: Vec<String> = (1..=args.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO dispatch_tasks (id, {}) VALUES ({})",
            TASK_COLUMNS.join(", "),
            placeholders.join(", ")
        );
        tx.execute(&sql, args).await.map_err(self.db_err(action))?;
        let entry = NewEntry {
            kind: TimelineKind::TaskDispatched,
            at: task.notified_at(),
            content: json!({
                "task_id": task.id(),
                "unit_id": task.unit_id(),
                "from": Value::Null,
                "to": TaskState::Notified,
                "instructions": task.instructions(),
            }),
        };
        let entries = self
            .append(tx, incident_id, operator, vec![entry], action)
            .await?;
        Ok((
            Stored {
                value: task,
                revision: 1,
            },
            entries,
        ))
    }

    /// Moves task `id` to `to` at `at` (Unix ms; never before its last transition) for
    /// `operator`, with a `task_transitioned` timeline entry on its incident whose
    /// `in_previous_state_ms` is the time spent in the state it left. Revision + 1.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`]; [`StoreError::PreconditionFailed`];
    /// [`StoreError::Domain`] with [`DomainError::IllegalTaskTransition`] naming both
    /// states; [`StoreError::Database`].
    pub async fn transition_task(
        &self,
        id: &TaskId,
        to: TaskState,
        operator: &str,
        at: UnixMs,
        expected_revision: Option<i64>,
    ) -> Result<(Stored<Task>, Vec<TimelineEntry>), StoreError> {
        let subject = format!("dispatch task {id}");
        check_operator(operator).map_err(|e| StoreError::domain(&subject, e))?;
        let action = format!("moving dispatch task {id} to {to}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let sql = format!("{SELECT_TASK} WHERE id = $1{}", tx.for_update());
            let Stored {
                value: mut task,
                revision,
            } = tx
                .fetch_optional(
                    &sql,
                    vec![text(id.as_str())],
                    task_from_row,
                    self.db_err(&action),
                )
                .await?
                .ok_or_else(|| StoreError::not_found(Entity::Task, id.as_str()))?;
            if let Some(expected) = expected_revision
                && expected != revision
            {
                return Err(StoreError::PreconditionFailed {
                    what: Entity::Task,
                    id: id.to_string(),
                    expected,
                    actual: revision,
                });
            }
            let from = task.state();
            let transition = task
                .transition(to, at)
                .map_err(|e| StoreError::domain(&subject, e))?;
            let revision = revision + 1;
            let mut args = vec![text(id.as_str())];
            args.extend(task_args(&task, revision)?);
            let sets: Vec<String> = TASK_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 2))
                .collect();
            let sql = format!("UPDATE dispatch_tasks SET {} WHERE id = $1", sets.join(", "));
            tx.execute(&sql, args).await.map_err(self.db_err(&action))?;
            let in_previous = task.time_in(from, transition.at);
            let entry = NewEntry {
                kind: TimelineKind::TaskTransitioned,
                at: transition.at,
                content: json!({
                    "task_id": task.id(),
                    "unit_id": task.unit_id(),
                    "from": from,
                    "to": to,
                    "in_previous_state_ms": u64::try_from(in_previous.as_millis()).unwrap_or(u64::MAX),
                }),
            };
            let incident_id = task.incident_id().clone();
            let entries = self
                .append(&mut tx, &incident_id, operator, vec![entry], &action)
                .await?;
            Ok((
                Stored {
                    value: task,
                    revision,
                },
                entries,
            ))
        }
        .await;
        let (task, entries) = self.finish(tx, result, &action).await?;
        tracing::info!(task = %id, state = %to, operator, "dispatch task moved");
        Ok((task, entries))
    }

    /// Task `id` at its current revision, or [`StoreError::NotFound`].
    pub async fn task(&self, id: &TaskId) -> Result<Stored<Task>, StoreError> {
        let sql = format!("{SELECT_TASK} WHERE id = $1");
        let action = format!("reading dispatch task {id}");
        fetch_optional(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            task_from_row,
            self.db_err(&action),
        )
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Task, id.as_str()))
    }

    /// Every task of incident `id`, in dispatch order; errors: [`StoreError::NotFound`],
    /// [`StoreError::Database`].
    pub async fn tasks_of(&self, id: &IncidentId) -> Result<Vec<Stored<Task>>, StoreError> {
        self.require_incident(id).await?;
        let sql = format!("{SELECT_TASK} WHERE incident_id = $1 ORDER BY notified_at, id");
        let action = format!("listing the tasks of incident {id}");
        fetch_all(
            &self.db,
            &sql,
            vec![text(id.as_str())],
            task_from_row,
            self.db_err(&action),
        )
        .await
    }

    // ----- timeline --------------------------------------------------------------------

    /// Attaches `evidence` (a camera, a snapshot, a video bookmark) to incident `id` at
    /// `at` (Unix ms) for `operator`: one timeline entry, nothing else changes.
    ///
    /// Errors (nothing written): [`StoreError::NotFound`]; [`StoreError::Domain`] with
    /// [`DomainError::Closed`] or [`DomainError::Invalid`] naming the fields;
    /// [`StoreError::Database`].
    pub async fn add_evidence(
        &self,
        id: &IncidentId,
        evidence: Evidence,
        operator: &str,
        at: UnixMs,
    ) -> Result<TimelineEntry, StoreError> {
        let subject = format!("incident {id}");
        let mut errors = evidence.validate(at);
        if let Err(e) = check_operator(operator) {
            errors.extend(e.field_errors().iter().cloned());
        }
        invalid(errors).map_err(|e| StoreError::domain(&subject, e))?;
        let action = format!("attaching evidence to incident {id}");
        let mut tx = self.begin(&action).await?;
        let result = async {
            let incident = self.lock_incident(&mut tx, id, &action).await?;
            incident
                .value
                .check_dispatch()
                .map_err(|e| StoreError::domain(&subject, e))?;
            let kind = evidence.kind();
            let mut content = serde_json::to_value(&evidence)
                .map_err(|e| StoreError::encode(Entity::Incident, id.as_str(), e))?;
            if let Some(map) = content.as_object_mut() {
                map.remove("kind");
            }
            let entry = NewEntry { kind, at, content };
            self.append(&mut tx, id, operator, vec![entry], &action)
                .await
        }
        .await;
        let mut entries = self.finish(tx, result, &action).await?;
        let entry = entries.pop().ok_or_else(|| StoreError::Corrupt {
            what: Entity::Incident,
            id: id.to_string(),
            column: "timeline",
            reason: "the evidence entry was not written".to_owned(),
        })?;
        tracing::info!(incident = %id, kind = %entry.kind, operator, "evidence attached");
        Ok(entry)
    }

    /// Incident `id`'s timeline entries with an id above `after` (all when `None`),
    /// oldest first, at most `limit` (up to [`MAX_LIMIT`]).
    ///
    /// Errors: [`StoreError::NotFound`]; [`StoreError::Domain`] naming `limit`;
    /// [`StoreError::Database`].
    pub async fn timeline(
        &self,
        id: &IncidentId,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        check_page_limit(limit, &format!("timeline of incident {id}"))?;
        let sql = format!("{SELECT_ENTRY} WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let action = format!("reading the timeline of incident {id}");
        let entries = fetch_all(
            &self.db,
            &sql,
            vec![
                text(id.as_str()),
                Arg::Int(after.unwrap_or(0)),
                Arg::Int(i64::from(limit)),
            ],
            entry_from_row,
            self.db_err(&action),
        )
        .await?;
        if entries.is_empty() {
            self.require_incident(id).await?;
        }
        Ok(entries)
    }

    /// Every incident's timeline entries with an id above `after`, oldest first, at most
    /// `limit` (up to [`MAX_LIMIT`]): the feed for the duty log and live updates. A
    /// reader that remembers the last id it saw never misses an entry.
    ///
    /// Errors: [`StoreError::Domain`] naming `limit`; [`StoreError::Database`].
    pub async fn feed(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        check_page_limit(limit, "timeline feed")?;
        let sql = format!("{SELECT_ENTRY} WHERE id > $1 ORDER BY id LIMIT $2");
        fetch_all(
            &self.db,
            &sql,
            vec![Arg::Int(after.unwrap_or(0)), Arg::Int(i64::from(limit))],
            entry_from_row,
            self.db_err("reading the timeline feed"),
        )
        .await
    }

    /// The id of the newest timeline entry, 0 when there is none: where a live reader
    /// that wants only what comes next starts ([`IncidentStore::feed`] after it).
    ///
    /// Errors: [`StoreError::Database`].
    pub async fn latest_entry_id(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(id), 0) AS latest FROM incident_timeline";
        let latest: i64 = crate::on_db!(&self.db, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await
        })
        .map_err(self.db_err("reading the newest timeline entry"))?;
        Ok(latest)
    }

    // ----- plumbing --------------------------------------------------------------------

    fn db_err(&self, action: &str) -> impl FnOnce(sqlx::Error) -> StoreError + use<> {
        let url = self.db.redacted_url().to_owned();
        let action = action.to_owned();
        move |source| StoreError::Database {
            action,
            url,
            source,
        }
    }

    async fn begin(&self, action: &str) -> Result<Tx, StoreError> {
        Tx::begin(&self.db).await.map_err(self.db_err(action))
    }

    /// Commits after `result` is `Ok`, rolls back otherwise.
    async fn finish<T>(
        &self,
        tx: Tx,
        result: Result<T, StoreError>,
        action: &str,
    ) -> Result<T, StoreError> {
        tx.finish(result, self.db_err(action), action).await
    }

    /// Advances counter `name` by `n` and returns its new value: the `n` values handed out
    /// are `value - n + 1 ..= value`. The counter row stays locked until the transaction
    /// ends, so values are handed out in commit order.
    async fn advance(
        &self,
        tx: &mut Tx,
        name: &str,
        n: i64,
        action: &str,
    ) -> Result<i64, StoreError> {
        let value = tx
            .fetch_optional(
                "INSERT INTO incident_sequences (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = incident_sequences.value + $2 \
                 RETURNING value",
                vec![text(name), Arg::Int(n)],
                |r| r.int("value").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?;
        value.ok_or_else(|| StoreError::Corrupt {
            what: Entity::Incident,
            id: "-".to_owned(),
            column: "incident_sequences",
            reason: format!("counter {name} returned no value"),
        })
    }

    /// Appends `entries` to incident `incident`'s timeline, in order.
    async fn append(
        &self,
        tx: &mut Tx,
        incident: &IncidentId,
        operator: &str,
        entries: Vec<NewEntry>,
        action: &str,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let Ok(n) = i64::try_from(entries.len()) else {
            return Err(StoreError::Corrupt {
                what: Entity::Incident,
                id: incident.to_string(),
                column: "timeline",
                reason: "too many entries at once".to_owned(),
            });
        };
        if n == 0 {
            return Ok(Vec::new());
        }
        let last = self.advance(tx, "timeline", n, action).await?;
        let mut written = Vec::with_capacity(entries.len());
        for (entry_id, entry) in (last - n + 1..).zip(entries) {
            let content = encode(&entry.content, Entity::Incident, incident.as_str())?;
            tx.execute(
                "INSERT INTO incident_timeline (id, incident_id, at, operator, kind, content) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    Arg::Int(entry_id),
                    text(incident.as_str()),
                    Arg::Int(entry.at),
                    text(operator),
                    text(entry.kind.as_str()),
                    Arg::Text(Some(content)),
                ],
            )
            .await
            .map_err(self.db_err(action))?;
            written.push(TimelineEntry {
                id: entry_id,
                incident_id: incident.clone(),
                at: entry.at,
                operator: operator.to_owned(),
                kind: entry.kind,
                content: entry.content,
            });
        }
        Ok(written)
    }

    /// Reads incident `id` in `tx`, locking its row until the transaction ends.
    async fn lock_incident(
        &self,
        tx: &mut Tx,
        id: &IncidentId,
        action: &str,
    ) -> Result<Stored<Incident>, StoreError> {
        let sql = format!("{SELECT_INCIDENT} WHERE id = $1{}", tx.for_update());
        tx.fetch_optional(
            &sql,
            vec![text(id.as_str())],
            incident_from_row,
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Incident, id.as_str()))
    }

    /// Reads report `id` in `tx`, locking its row until the transaction ends.
    async fn lock_report(
        &self,
        tx: &mut Tx,
        id: &ReportId,
        action: &str,
    ) -> Result<IntakeReport, StoreError> {
        let sql = format!("{SELECT_REPORT} WHERE id = $1{}", tx.for_update());
        tx.fetch_optional(
            &sql,
            vec![text(id.as_str())],
            report_from_row,
            self.db_err(action),
        )
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Report, id.as_str()))
    }

    async fn count_open_tasks(
        &self,
        tx: &mut Tx,
        id: &IncidentId,
        action: &str,
    ) -> Result<usize, StoreError> {
        let n = tx
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM dispatch_tasks WHERE incident_id = $1 \
                 AND state <> 'released'",
                vec![text(id.as_str())],
                |r| r.int("n").map_err(self.db_err(action)),
                self.db_err(action),
            )
            .await?
            .unwrap_or(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs a `SELECT COUNT(*) AS n` on the pool.
    async fn count(&self, sql: &str, args: Vec<Arg>, action: &str) -> Result<u64, StoreError> {
        let n = fetch_optional(
            &self.db,
            sql,
            args,
            |r| r.int("n").map_err(self.db_err(action)),
            self.db_err(action),
        )
        .await?
        .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn require_incident(&self, id: &IncidentId) -> Result<(), StoreError> {
        let action = format!("reading incident {id}");
        let found = fetch_optional(
            &self.db,
            "SELECT id FROM incidents WHERE id = $1",
            vec![text(id.as_str())],
            |r| r.text("id").map_err(self.db_err(&action)),
            self.db_err(&action),
        )
        .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found(Entity::Incident, id.as_str())),
        }
    }
}

fn text(value: &str) -> Arg {
    Arg::Text(Some(value.to_owned()))
}

/// The snake_case name a value serializes to (the domain's enumerations).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

fn check_page_limit(limit: u32, subject: &str) -> Result<(), StoreError> {
    check_limit(limit, MAX_LIMIT).map(drop).map_err(|reason| {
        StoreError::domain(
            subject,
            DomainError::Invalid {
                errors: vec![FieldError::new("limit", reason)],
            },
        )
    })
}

/// A generated id; the patterns used (`inc-N`, …) always follow the id rule.
fn generated_id<T>(id: Result<T, String>, what: Entity) -> Result<T, StoreError> {
    id.map_err(|reason| StoreError::Corrupt {
        what,
        id: "-".to_owned(),
        column: "incident_sequences",
        reason,
    })
}

fn encode<T: Serialize>(value: &T, what: Entity, id: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::encode(what, id, e))
}

/// The timeline entries of incident events, all at `at`: kind = the event's tag, content
/// = its other fields.
fn event_entries(
    events: Vec<IncidentEvent>,
    at: UnixMs,
    id: &IncidentId,
) -> Result<Vec<NewEntry>, StoreError> {
    events
        .into_iter()
        .map(|event| {
            let kind = event_kind(&event);
            let mut content = serde_json::to_value(&event)
                .map_err(|e| StoreError::encode(Entity::Incident, id.as_str(), e))?;
            if let Some(map) = content.as_object_mut() {
                map.remove("event");
            }
            Ok(NewEntry { kind, at, content })
        })
        .collect()
}

fn event_kind(event: &IncidentEvent) -> TimelineKind {
    match event {
        IncidentEvent::Opened { .. } => TimelineKind::Opened,
        IncidentEvent::StateChanged { .. } => TimelineKind::StateChanged,
        IncidentEvent::Closed { .. } => TimelineKind::Closed,
        IncidentEvent::FiguresChanged { .. } => TimelineKind::FiguresChanged,
        IncidentEvent::Regraded { .. } => TimelineKind::Regraded,
        IncidentEvent::ReportChainExtended { .. } => TimelineKind::ReportChainExtended,
        IncidentEvent::ReportRecorded { .. } => TimelineKind::ReportRecorded,
        IncidentEvent::LocationChanged { .. } => TimelineKind::LocationChanged,
        IncidentEvent::EnterpriseChanged { .. } => TimelineKind::EnterpriseChanged,
        IncidentEvent::TypeChanged { .. } => TimelineKind::TypeChanged,
        IncidentEvent::TitleChanged { .. } => TimelineKind::TitleChanged,
        IncidentEvent::WarningLevelChanged { .. } => TimelineKind::WarningLevelChanged,
        IncidentEvent::ResponseLevelChanged { .. } => TimelineKind::ResponseLevelChanged,
        IncidentEvent::NoteAdded { .. } => TimelineKind::NoteAdded,
    }
}

/// The written form of an incident's columns, in [`INCIDENT_COLUMNS`] order.
fn incident_args(incident: &Incident, revision: i64) -> Result<Vec<Arg>, StoreError> {
    let record = encode(
        &IncidentRecord::from(incident.clone()),
        Entity::Incident,
        incident.id().as_str(),
    )?;
    let location = incident.location();
    Ok(vec![
        text(&name(&incident.state())),
        text(&name(&incident.grade())),
        text(&name(&incident.incident_type())),
        Arg::Bool(incident.exercise()),
        Arg::Text(location.district.clone()),
        Arg::Text(location.street.clone()),
        Arg::Text(incident.enterprise_id().map(str::to_owned)),
        Arg::Int(incident.occurred_at()),
        Arg::Int(incident.opened_at()),
        Arg::Int(incident.updated_at()),
        Arg::OptInt(incident.closed_at()),
        Arg::OptInt(
            incident
                .reports()
                .next_due(incident.updated_at())
                .map(|clock| clock.due_at),
        ),
        Arg::Int(revision),
        Arg::Text(Some(record)),
    ])
}

/// The written form of a task's columns, in [`TASK_COLUMNS`] order.
fn task_args(task: &Task, revision: i64) -> Result<Vec<Arg>, StoreError> {
    let record = encode(
        &TaskRecord::from(task.clone()),
        Entity::Task,
        task.id().as_str(),
    )?;
    Ok(vec![
        text(task.incident_id().as_str()),
        text(task.unit_id().as_str()),
        text(&name(&task.state())),
        Arg::Int(task.notified_at()),
        Arg::Int(task.transitions().last().map_or(0, |t| t.at)),
        Arg::Int(revision),
        Arg::Text(Some(record)),
    ])
}

/// Reads `id`, `revision` and `record` of an incident row; the record is checked through
/// [`Incident::try_from`].
fn incident_from_row(row: &dyn RowRead) -> Result<Stored<Incident>, StoreError> {
    let (id, revision, record) = record_columns(row, Entity::Incident)?;
    let corrupt = |column, reason| StoreError::Corrupt {
        what: Entity::Incident,
        id: id.clone(),
        column,
        reason,
    };
    let record: IncidentRecord =
        serde_json::from_str(&record).map_err(|e| corrupt("record", e.to_string()))?;
    let incident = Incident::try_from(record).map_err(|e| corrupt("record", e.to_string()))?;
    if incident.id().as_str() != id {
        return Err(corrupt(
            "record",
            format!("holds incident {}", incident.id()),
        ));
    }
    Ok(Stored {
        value: incident,
        revision,
    })
}

/// Reads `id`, `revision` and `record` of a task row; the record is checked through
/// [`Task::try_from`].
fn task_from_row(row: &dyn RowRead) -> Result<Stored<Task>, StoreError> {
    let (id, revision, record) = record_columns(row, Entity::Task)?;
    let corrupt = |column, reason| StoreError::Corrupt {
        what: Entity::Task,
        id: id.clone(),
        column,
        reason,
    };
    let record: TaskRecord =
        serde_json::from_str(&record).map_err(|e| corrupt("record", e.to_string()))?;
    let task = Task::try_from(record).map_err(|e| corrupt("record", e.to_string()))?;
    if task.id().as_str() != id {
        return Err(corrupt("record", format!("holds task {}", task.id())));
    }
    Ok(Stored {
        value: task,
        revision,
    })
}

fn record_columns(row: &dyn RowRead, what: Entity) -> Result<(String, i64, String), StoreError> {
    let r = RecordReader::new(row, "id", |id, column, reason| StoreError::Corrupt {
        what,
        id: id.to_owned(),
        column,
        reason,
    })?;
    Ok((r.id().to_owned(), r.int("revision")?, r.text("record")?))
}

fn report_from_row(row: &dyn RowRead) -> Result<IntakeReport, StoreError> {
    let r = RecordReader::new(row, "id", |id, column, reason| StoreError::Corrupt {
        what: Entity::Report,
        id: id.to_owned(),
        column,
        reason,
    })?;
    let id = r.parsed("id", ReportId::parse)?;
    let content = r.json("record")?;
    let incident_id = r.opt_parsed("incident_id", IncidentId::parse)?;
    Ok(IntakeReport {
        id,
        content,
        recorded_at: r.int("recorded_at")?,
        recorded_by: r.text("recorded_by")?,
        incident_id,
        linked_at: r.opt_int("linked_at")?,
        linked_by: r.opt_text("linked_by")?,
    })
}

fn entry_from_row(row: &dyn RowRead) -> Result<TimelineEntry, StoreError> {
    let raw_incident = row.text("incident_id").map_err(|e| StoreError::Corrupt {
        what: Entity::Incident,
        id: "?".to_owned(),
        column: "timeline.incident_id",
        reason: e.to_string(),
    })?;
    let corrupt = |column, reason: String| StoreError::Corrupt {
        what: Entity::Incident,
        id: raw_incident.clone(),
        column,
        reason,
    };
    let incident_id = IncidentId::parse(&raw_incident)
        .map_err(|reason| corrupt("timeline.incident_id", reason))?;
    let kind = row
        .text("kind")
        .map_err(|e| corrupt("timeline.kind", e.to_string()))?;
    let kind: TimelineKind = serde_json::from_value(Value::String(kind))
        .map_err(|e| corrupt("timeline.kind", e.to_string()))?;
    let content = row
        .text("content")
        .map_err(|e| corrupt("timeline.content", e.to_string()))?;
    Ok(TimelineEntry {
        id: row
            .int("id")
            .map_err(|e| corrupt("timeline.id", e.to_string()))?,
        incident_id,
        at: row
            .int("at")
            .map_err(|e| corrupt("timeline.at", e.to_string()))?,
        operator: row
            .text("operator")
            .map_err(|e| corrupt("timeline.operator", e.to_string()))?,
        kind,
        content: serde_json::from_str(&content)
            .map_err(|e| corrupt("timeline.content", e.to_string()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `2026112902NN_*.sql` file under `command/migrations/` is embedded, in version
    /// order, with the version and description its name gives.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .expect("migrations folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.to_owned();
                let (version, description) = stem.split_once('_')?;
                version.starts_with("2026112902").then(|| {
                    (
                        version.parse().expect("numeric version"),
                        description.replace('_', " "),
                        std::fs::read_to_string(&p).expect("read"),
                    )
                })
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files);
        for (version, _, _) in &files {
            assert_eq!(
                version.to_string().len(),
                12,
                "command versions are 12 digits"
            );
        }
    }

    #[test]
    fn every_event_kind_is_the_event_tag() {
        use crate::domain::{Figures, IncidentType, Location};
        let new = NewIncident {
            title: "t".to_owned(),
            incident_type: IncidentType::Fire,
            exercise: false,
            occurred_at: None,
            location: Location {
                address: Some("a".to_owned()),
                ..Location::default()
            },
            enterprise_id: None,
            figures: Figures::default(),
            warning_level: None,
            response_level: None,
        };
        let id = IncidentId::parse("inc-1").expect("id");
        let (mut incident, mut events) =
            Incident::open(id.clone(), new, 1_764_374_400_000).expect("open");
        let figures = Figures {
            deaths: Some(12),
            ..Figures::default()
        };
        events.extend(
            incident
                .apply(
                    IncidentCommand::UpdateFigures { figures },
                    1_764_374_400_001,
                    0,
                )
                .expect("figures"),
        );
        for event in events {
            let tag = serde_json::to_value(&event).expect("json")["event"].clone();
            assert_eq!(tag, event_kind(&event).as_str());
        }
        let entries = event_entries(
            vec![IncidentEvent::NoteAdded {
                text: "x".to_owned(),
            }],
            5,
            &id,
        )
        .expect("entries");
        assert_eq!(entries[0].content, json!({"text": "x"}));
    }
}
