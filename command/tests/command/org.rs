//! The organisation store against real databases: every test runs on an SQLite file and on
//! the PostgreSQL server that `cargo xtask test` provides, each PostgreSQL test in a
//! schema of its own (`watchpost_command::storage::testing`, `on_both_backends!`).
//! Also: the sample ledger in `fixtures/ledger/` loads without a single row error.

use watchpost_command::Database;
use watchpost_command::domain::{Position, UnitId};
use watchpost_command::org::{
    Availability, CentreFilter, CentreId, CentreInput, CentreLevel, ContactInput, ContactRole,
    Division, EnterpriseCategory, EnterpriseFilter, EnterpriseInput, HazardSourceInput, ImportMode,
    LedgerId, OrgError, Organisation, RowError, SampleLedger, UnitFilter, UnitInput, UnitKind,
    load_sample,
};
use watchpost_command::storage::testing::TestDb as Fixture;

const NOW: i64 = 1_764_374_400_000;
const LATER: i64 = NOW + 60_000;

/// The test database's stores.
trait Open {
    async fn org(&self) -> Organisation;
}

impl Open for Fixture {
    async fn org(&self) -> Organisation {
        Organisation::open(self.db.clone())
            .await
            .expect("open organisation")
    }
}

watchpost_command::on_both_backends!(
    "org",
    #[tokio::test],
    centre_hierarchy,
    units_and_availability,
    enterprise_crud_and_revisions,
    enterprise_filters_and_pages,
    invalid_enterprise_names_every_field,
    failing_child_row_rolls_the_enterprise_back,
    ledger_import_reports_lines_and_fields,
    sample_ledger_loads_clean_and_again,
    migrations_are_idempotent_and_share_the_table,
    concurrent_writers_wait_instead_of_failing,
);

fn centre_id(text: &str) -> CentreId {
    CentreId::parse(text).unwrap()
}

fn unit_id(text: &str) -> UnitId {
    UnitId::parse(text).unwrap()
}

fn ledger_id(text: &str) -> LedgerId {
    LedgerId::parse(text).unwrap()
}

fn city() -> CentreInput {
    CentreInput {
        id: Some("bj".into()),
        name: "City centre".into(),
        level: "city".into(),
        ..CentreInput::default()
    }
}

fn district(id: &str, district: &str) -> CentreInput {
    CentreInput {
        id: Some(id.into()),
        name: format!("{district} centre"),
        level: "district".into(),
        district: Some(district.into()),
        parent_id: Some("bj".into()),
        ..CentreInput::default()
    }
}

fn street(id: &str, district: &str, street: &str, parent: &str) -> CentreInput {
    CentreInput {
        id: Some(id.into()),
        name: format!("{street} office"),
        level: "street".into(),
        district: Some(district.into()),
        street: Some(street.into()),
        parent_id: Some(parent.into()),
        ..CentreInput::default()
    }
}

fn fields(err: &OrgError) -> Vec<&str> {
    err.field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect()
}

/// A valid enterprise in `district` (the credit code is Baidu's published one, valid).
fn enterprise(id: &str, district: &str, category: &str) -> EnterpriseInput {
    EnterpriseInput {
        ledger_id: Some(id.into()),
        name: format!("{id} site"),
        credit_code: "91110000802100433B".into(),
        category: category.into(),
        address: format!("1 Main Road, {district}"),
        division: Division {
            district: district.into(),
            street: Some("Centre".into()),
        },
        position: Some(Position {
            lon: 116.4,
            lat: 39.9,
        }),
        hazard_sources: vec![HazardSourceInput {
            id: "T1".into(),
            name: "Tank farm".into(),
            kind: "storage_tank".into(),
            substance: Some("gasoline".into()),
            quantity: Some(120.0),
            unit: Some("m³".into()),
            major_hazard: false,
        }],
        contacts: vec![ContactInput {
            name: "Wang Li".into(),
            role: "principal".into(),
            phone: "010-555-0100".into(),
        }],
    }
}

async fn centre_hierarchy(f: &Fixture) {
    let org = f.org().await;
    // A district before its city: the parent is missing.
    let err = org
        .create_centre(district("bj-cy", "Chaoyang"), NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["parent_id"], "{err}");
    assert!(
        err.to_string().contains("no command centre \"bj\""),
        "{err}"
    );

    let bj = org.create_centre(city(), NOW).await.unwrap();
    assert_eq!(
        (bj.level, bj.parent_id.clone(), bj.revision),
        (CentreLevel::City, None, 1)
    );
    org.create_centre(district("bj-cy", "Chaoyang"), NOW)
        .await
        .unwrap();
    org.create_centre(district("bj-ft", "Fengtai"), NOW)
        .await
        .unwrap();
    let jxq = org
        .create_centre(street("bj-cy-jxq", "Chaoyang", "Jiuxianqiao", "bj-cy"), NOW)
        .await
        .unwrap();
    assert_eq!(jxq.parent_id, Some(centre_id("bj-cy")));
    assert_eq!(org.get_centre(&centre_id("bj-cy-jxq")).await.unwrap(), jxq);

    // One centre per place: a second city, a second Chaoyang.
    let err = org
        .create_centre(
            CentreInput {
                id: Some("bj2".into()),
                ..city()
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    assert!(err.to_string().contains("the city centre is bj"), "{err}");
    let err = org
        .create_centre(district("bj-chaoyang", "Chaoyang"), NOW)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the centre of district Chaoyang is bj-cy"),
        "{err}"
    );
    // The same id again.
    let err = org.create_centre(city(), NOW).await.unwrap_err();
    assert!(matches!(&err, OrgError::Conflict { reason, .. } if reason == "already exists"));

    // Parents of the wrong level or district.
    let err = org
        .create_centre(street("bj-x", "Chaoyang", "Sanlitun", "bj"), NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["parent_id"]);
    assert!(
        err.to_string()
            .contains("bj is a city centre: a street centre's parent is a district centre"),
        "{err}"
    );
    let err = org
        .create_centre(street("bj-x", "Chaoyang", "Sanlitun", "bj-ft"), NOW)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bj-ft is the centre of Fengtai, not of Chaoyang"),
        "{err}"
    );
    let err = org
        .create_centre(
            CentreInput {
                parent_id: Some("bj-cy-jxq".into()),
                ..district("bj-x", "Haidian")
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("bj-cy-jxq is a street centre"),
        "{err}"
    );

    // Lists: hierarchy order, filters.
    let all = org.list_centres(&CentreFilter::default()).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["bj", "bj-cy", "bj-ft", "bj-cy-jxq"]);
    let children = org
        .list_centres(&CentreFilter {
            parent_id: Some(centre_id("bj")),
            ..CentreFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(children.len(), 2);
    let chaoyang = org
        .list_centres(&CentreFilter {
            district: Some("Chaoyang".into()),
            level: Some(CentreLevel::Street),
            ..CentreFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(chaoyang, [jxq]);

    // Updates: renaming is fine; a centre with children keeps its district.
    let mut input = CentreInput::from(&org.get_centre(&centre_id("bj-cy")).await.unwrap());
    input.name = "Chaoyang District Command Centre".into();
    input.phone = Some("010-555-0199".into());
    let renamed = org
        .update_centre(&centre_id("bj-cy"), input.clone(), LATER, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (renamed.revision, renamed.updated_ms, renamed.created_ms),
        (2, LATER, NOW)
    );
    let err = org
        .update_centre(&centre_id("bj-cy"), input.clone(), LATER, Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OrgError::PreconditionFailed {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    input.district = Some("Haidian".into());
    let err = org
        .update_centre(&centre_id("bj-cy"), input, LATER, None)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["district"], "{err}");
    assert!(
        err.to_string().contains("1 child centres (bj-cy-jxq)"),
        "{err}"
    );
    let err = org
        .update_centre(&centre_id("nope"), city(), LATER, None)
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["id"],
        "the body's id differs from the path's: {err}"
    );
    let err = org
        .update_centre(
            &centre_id("nope"),
            CentreInput { id: None, ..city() },
            LATER,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");

    // Deleting: not while children refer to it.
    let err = org.delete_centre(&centre_id("bj-cy")).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::InUse { by, .. } if by == "1 child centres (bj-cy-jxq)"),
        "{err}"
    );
    org.delete_centre(&centre_id("bj-cy-jxq")).await.unwrap();
    org.delete_centre(&centre_id("bj-cy")).await.unwrap();
    let err = org.delete_centre(&centre_id("bj-cy")).await.unwrap_err();
    assert_eq!(err.code(), "not_found");
    // The place is free again.
    org.create_centre(district("bj-chaoyang", "Chaoyang"), LATER)
        .await
        .unwrap();
}

async fn units_and_availability(f: &Fixture) {
    let org = f.org().await;
    org.create_centre(city(), NOW).await.unwrap();
    org.create_centre(district("bj-cy", "Chaoyang"), NOW)
        .await
        .unwrap();
    org.create_centre(street("bj-cy-jxq", "Chaoyang", "Jiuxianqiao", "bj-cy"), NOW)
        .await
        .unwrap();

    let team = UnitInput {
        id: Some("u-team".into()),
        name: "Hazmat Team".into(),
        kind: "rescue_team".into(),
        centre_id: "bj-cy".into(),
        members: Some(30),
        skills: vec!["hazmat".into(), "foam".into()],
        phone: Some("010-555-0110".into()),
        position: Some(Position {
            lon: 116.47,
            lat: 39.95,
        }),
        ..UnitInput::default()
    };
    let err = org
        .create_unit(
            UnitInput {
                centre_id: "bj-nowhere".into(),
                ..team.clone()
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["centre_id"], "{err}");
    let created = org.create_unit(team.clone(), NOW).await.unwrap();
    assert_eq!(created.availability, Availability::Available);
    assert_eq!(created.availability_ms, NOW);
    assert_eq!(org.get_unit(&unit_id("u-team")).await.unwrap(), created);
    assert_eq!(
        org.create_unit(team.clone(), NOW).await.unwrap_err().code(),
        "conflict"
    );

    for (id, kind, centre, availability, extra) in [
        ("u-truck", "vehicle", "bj-cy", "off_duty", "plate"),
        ("u-expert", "expert", "bj", "available", ""),
        (
            "u-volunteers",
            "rescue_team",
            "bj-cy-jxq",
            "unavailable",
            "",
        ),
        ("u-depot", "equipment_depot", "bj", "available", ""),
    ] {
        org.create_unit(
            UnitInput {
                id: Some(id.into()),
                name: format!("{id} name"),
                kind: kind.into(),
                centre_id: centre.into(),
                availability: Some(availability.into()),
                plate: (extra == "plate").then(|| "京A·55502".into()),
                skills: if kind == "expert" {
                    vec!["Ammonia".into()]
                } else {
                    vec![]
                },
                ..UnitInput::default()
            },
            NOW,
        )
        .await
        .unwrap();
    }
    let ids = |page: watchpost_command::org::UnitPage| -> Vec<String> {
        page.items.iter().map(|u| u.id.to_string()).collect()
    };
    let filter = |f: UnitFilter| f;
    let all = org.list_units(&UnitFilter::default()).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(
        ids(all),
        ["u-depot", "u-expert", "u-team", "u-truck", "u-volunteers"]
    );
    let chaoyang = org
        .list_units(&filter(UnitFilter {
            district: Some("Chaoyang".into()),
            ..UnitFilter::default()
        }))
        .await
        .unwrap();
    assert_eq!(ids(chaoyang), ["u-team", "u-truck", "u-volunteers"]);
    let available_teams = org
        .list_units(&UnitFilter {
            kind: Some(UnitKind::RescueTeam),
            availability: Some(Availability::Available),
            ..UnitFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(available_teams), ["u-team"]);
    let of_city = org
        .list_units(&UnitFilter {
            centre_id: Some(centre_id("bj")),
            limit: Some(1),
            offset: Some(1),
            ..UnitFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (of_city.total, ids(of_city)),
        (2, vec!["u-expert".to_owned()])
    );
    let by_skill = org
        .list_units(&UnitFilter {
            q: Some("ammonia".into()),
            ..UnitFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(by_skill), ["u-expert"]);

    // Availability: a change dates from its time and bumps the revision; the same value
    // changes nothing.
    let dispatched = org
        .set_availability(&unit_id("u-team"), Availability::Dispatched, LATER)
        .await
        .unwrap();
    assert_eq!(
        (
            dispatched.availability,
            dispatched.availability_ms,
            dispatched.revision
        ),
        (Availability::Dispatched, LATER, 2)
    );
    let again = org
        .set_availability(&unit_id("u-team"), Availability::Dispatched, LATER + 5)
        .await
        .unwrap();
    assert_eq!(again, dispatched);
    assert_eq!(
        org.set_availability(&unit_id("nope"), Availability::Available, LATER)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    // A PUT without availability keeps it; with a stale revision it is refused.
    let mut input = team.clone();
    input.id = None;
    input.name = "Hazmat Team 1".into();
    input.members = Some(32);
    let updated = org
        .update_unit(&unit_id("u-team"), input.clone(), LATER + 10, Some(2))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.availability,
            updated.availability_ms,
            updated.revision,
            updated.members
        ),
        (Availability::Dispatched, LATER, 3, Some(32))
    );
    let err = org
        .update_unit(&unit_id("u-team"), input.clone(), LATER, Some(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "precondition_failed", "{err}");
    input.availability = Some("available".into());
    let released = org
        .update_unit(&unit_id("u-team"), input, LATER + 20, None)
        .await
        .unwrap();
    assert_eq!(
        (released.availability, released.availability_ms),
        (Availability::Available, LATER + 20)
    );

    // Kind-specific fields are checked on update too.
    let mut truck = UnitInput::from(&org.get_unit(&unit_id("u-truck")).await.unwrap());
    truck.members = Some(4);
    let err = org
        .update_unit(&unit_id("u-truck"), truck, LATER, None)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["members"], "{err}");

    // A centre with units cannot go; the unit can.
    let err = org
        .delete_centre(&centre_id("bj-cy-jxq"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OrgError::InUse { by, .. } if by == "1 units (u-volunteers)"),
        "{err}"
    );
    org.delete_unit(&unit_id("u-volunteers")).await.unwrap();
    assert_eq!(
        org.delete_unit(&unit_id("u-volunteers"))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    org.delete_centre(&centre_id("bj-cy-jxq")).await.unwrap();
}

async fn enterprise_crud_and_revisions(f: &Fixture) {
    let org = f.org().await;
    let mut input = enterprise("E-110105-0001", "Chaoyang", "gas_station");
    input.credit_code = " 91110000802100433b ".into();
    input.hazard_sources.push(HazardSourceInput {
        id: "L1".into(),
        name: "Pump islands".into(),
        kind: "loading_area".into(),
        ..HazardSourceInput::default()
    });
    input.contacts.push(ContactInput {
        name: "Duty room".into(),
        role: "duty_officer".into(),
        phone: "+86 10 555 0101".into(),
    });
    let created = org.create_enterprise(input.clone(), NOW).await.unwrap();
    assert_eq!(created.credit_code.as_str(), "91110000802100433B");
    assert_eq!(created.category, EnterpriseCategory::GasStation);
    assert_eq!(created.revision, 1);
    let ids: Vec<&str> = created
        .hazard_sources
        .iter()
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(ids, ["T1", "L1"], "input order kept");
    assert_eq!(created.contacts[1].role, ContactRole::DutyOfficer);
    let id = ledger_id("E-110105-0001");
    assert_eq!(org.get_enterprise(&id).await.unwrap(), created);
    assert!(!created.has_major_hazard());

    let err = org.create_enterprise(input, NOW).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::Conflict { id, .. } if id == "E-110105-0001"),
        "{err}"
    );

    // An update replaces the children and bumps the revision.
    let mut change = EnterpriseInput::from(&created);
    change.ledger_id = None;
    change.name = "Jiuxianqiao Gas Station".into();
    change.hazard_sources = vec![HazardSourceInput {
        id: "T9".into(),
        name: "New tank farm".into(),
        kind: "storage_tank".into(),
        quantity: Some(240.0),
        unit: Some("m³".into()),
        major_hazard: true,
        ..HazardSourceInput::default()
    }];
    change.contacts.truncate(1);
    let updated = org
        .update_enterprise(&id, change.clone(), LATER, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (updated.revision, updated.updated_ms, updated.created_ms),
        (2, LATER, NOW)
    );
    assert_eq!(updated.hazard_sources.len(), 1);
    assert!(updated.has_major_hazard());
    assert_eq!(updated.contacts.len(), 1);
    assert_eq!(org.get_enterprise(&id).await.unwrap(), updated);

    let err = org
        .update_enterprise(&id, change.clone(), LATER, Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OrgError::PreconditionFailed {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    let other = ledger_id("E-110105-0404");
    let err = org
        .update_enterprise(&other, change, LATER, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");

    org.delete_enterprise(&id).await.unwrap();
    assert_eq!(
        org.get_enterprise(&id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        org.delete_enterprise(&id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM org_hazard_sources").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM org_contacts").await, 0);
}

async fn enterprise_filters_and_pages(f: &Fixture) {
    let org = f.org().await;
    let mut rows = vec![
        enterprise("E-110105-0001", "Chaoyang", "gas_station"),
        enterprise("E-110105-0002", "Chaoyang", "fireworks_retail"),
        enterprise("E-110106-0001", "Fengtai", "oil_depot"),
        enterprise("E-110109-0001", "Mentougou", "tailings_pond"),
    ];
    rows[1].division.street = Some("Heizhuanghu".into());
    rows[1].name = "Heizhuanghu 50%_Outlet".into();
    rows[2].hazard_sources[0].major_hazard = true;
    rows[2].credit_code = "91110000710926094P".into();
    rows[3].hazard_sources[0].major_hazard = true;
    for row in rows {
        org.create_enterprise(row, NOW).await.unwrap();
    }
    let ids = |filter: EnterpriseFilter| {
        let org = org.clone();
        async move {
            let page = org.list_enterprises(&filter).await.unwrap();
            let ids: Vec<String> = page.items.iter().map(|e| e.ledger_id.to_string()).collect();
            (page.total, ids)
        }
    };
    let (total, all) = ids(EnterpriseFilter::default()).await;
    assert_eq!(total, 4);
    assert_eq!(
        all,
        [
            "E-110105-0001",
            "E-110105-0002",
            "E-110106-0001",
            "E-110109-0001"
        ]
    );
    let page = org
        .list_enterprises(&EnterpriseFilter::default())
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|e| e.hazard_sources.len() == 1 && e.contacts.len() == 1),
        "children come with the list"
    );
    let chaoyang = ids(EnterpriseFilter {
        district: Some("Chaoyang".into()),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(chaoyang.0, 2);
    let street = ids(EnterpriseFilter {
        district: Some("Chaoyang".into()),
        street: Some("Heizhuanghu".into()),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(street.1, ["E-110105-0002"]);
    let category = ids(EnterpriseFilter {
        category: Some(EnterpriseCategory::TailingsPond),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(category.1, ["E-110109-0001"]);
    let major = ids(EnterpriseFilter {
        major_hazard: Some(true),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(major.1, ["E-110106-0001", "E-110109-0001"]);
    let minor = ids(EnterpriseFilter {
        major_hazard: Some(false),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(minor.1, ["E-110105-0001", "E-110105-0002"]);
    let code = ids(EnterpriseFilter {
        credit_code: Some("91110000710926094p".into()),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(code.1, ["E-110106-0001"]);
    // q: name, ledger id, credit code, address; LIKE wildcards are literal.
    for (q, expected) in [
        ("50%_out", vec!["E-110105-0002"]),
        ("e-110109", vec!["E-110109-0001"]),
        ("710926094", vec!["E-110106-0001"]),
        ("main road, fengtai", vec!["E-110106-0001"]),
        ("%", vec!["E-110105-0002"]),
    ] {
        let found = ids(EnterpriseFilter {
            q: Some(q.into()),
            ..EnterpriseFilter::default()
        })
        .await;
        assert_eq!(found.1, expected, "q={q}");
    }
    let paged = ids(EnterpriseFilter {
        limit: Some(2),
        offset: Some(1),
        ..EnterpriseFilter::default()
    })
    .await;
    assert_eq!(
        paged,
        (
            4,
            vec!["E-110105-0002".to_owned(), "E-110106-0001".to_owned()]
        )
    );
    let err = org
        .list_enterprises(&EnterpriseFilter {
            limit: Some(1001),
            ..EnterpriseFilter::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["limit"]);
    // Filters deserialize from query strings, refusing unknown keys.
    let filter: EnterpriseFilter = serde_json::from_value(serde_json::json!({
        "district": "Chaoyang", "category": "gas_station", "major_hazard": false
    }))
    .unwrap();
    assert_eq!(ids(filter).await.1, ["E-110105-0001"]);
    assert!(serde_json::from_value::<EnterpriseFilter>(serde_json::json!({"colour": 1})).is_err());
}

async fn invalid_enterprise_names_every_field(f: &Fixture) {
    let org = f.org().await;
    let mut input = enterprise("E-110105-0001", "Chaoyang", "gas-station");
    input.credit_code = "91110000802100433C".into();
    input.hazard_sources[0].quantity = Some(-5.0);
    input.contacts[0].phone = "ask the guard".into();
    let err = org.create_enterprise(input, NOW).await.unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "credit_code",
            "category",
            "hazard_sources[0].quantity",
            "contacts[0].phone"
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("invalid enterprise E-110105-0001: credit_code:"),
        "{text}"
    );
    assert!(text.contains("GB 32100-2015 gives 'B'"), "{text}");
    assert_eq!(f.count("SELECT COUNT(*) FROM org_enterprises").await, 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM org_hazard_sources").await, 0);
}

async fn failing_child_row_rolls_the_enterprise_back(f: &Fixture) {
    let org = f.org().await;
    let id = ledger_id("E-110106-0001");
    let stored = org
        .create_enterprise(enterprise("E-110106-0001", "Fengtai", "oil_depot"), NOW)
        .await
        .unwrap();
    // Sabotage: the database refuses one contact name that validation lets through.
    f.execute("DROP TABLE org_contacts").await;
    f.execute(
        "CREATE TABLE org_contacts (
            ledger_id TEXT NOT NULL REFERENCES org_enterprises (ledger_id) ON DELETE CASCADE,
            seq BIGINT NOT NULL,
            name TEXT NOT NULL CHECK (name <> 'Refused'),
            role TEXT NOT NULL,
            phone TEXT NOT NULL,
            PRIMARY KEY (ledger_id, seq))",
    )
    .await;
    f.execute("INSERT INTO org_contacts (ledger_id, seq, name, role, phone) VALUES ('E-110106-0001', 0, 'Wang Li', 'principal', '010-555-0100')").await;

    // Create: the enterprise row and its hazard sources went in before the contact failed.
    let mut bad = enterprise("E-110105-0009", "Chaoyang", "gas_station");
    bad.contacts.push(ContactInput {
        name: "Refused".into(),
        role: "other".into(),
        phone: "010-555-0102".into(),
    });
    let err = org.create_enterprise(bad.clone(), NOW).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::Database { action, .. } if action == "creating enterprise E-110105-0009"),
        "{err}"
    );
    assert_eq!(
        org.get_enterprise(&ledger_id("E-110105-0009"))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM org_hazard_sources WHERE ledger_id = 'E-110105-0009'")
            .await,
        0
    );

    // Update: the old revision and children stay, although the new hazard sources were
    // written and the old ones deleted before the contact failed.
    let mut change = bad;
    change.ledger_id = None;
    change.hazard_sources[0].id = "T2".into();
    let err = org
        .update_enterprise(&id, change, LATER, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "database", "{err}");
    assert_eq!(org.get_enterprise(&id).await.unwrap(), stored);

    // An import row that fails the same way leaves nothing, the next row goes in.
    let text = format!(
        "[{}, {}]",
        serde_json::to_string(&enterprise("E-110105-0010", "Chaoyang", "other"))
            .unwrap()
            .replace("Wang Li", "Refused"),
        serde_json::to_string(&enterprise("E-110105-0011", "Chaoyang", "other")).unwrap()
    );
    let report = org
        .import_enterprises_json(&text, "ledger.json", ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(report.created, ["E-110105-0011"]);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM org_enterprises WHERE ledger_id = 'E-110105-0010'")
            .await,
        0
    );
}

async fn ledger_import_reports_lines_and_fields(f: &Fixture) {
    let org = f.org().await;
    let text = r#"[
  {"ledger_id": "E-110105-0001", "name": "Good station", "credit_code": "91110000802100433B",
   "category": "gas_station", "address": "1 Jiuxianqiao Road",
   "division": {"district": "Chaoyang", "street": "Jiuxianqiao"},
   "position": {"lon": 116.4912, "lat": 39.9703},
   "hazard_sources": [{"id": "T1", "name": "Tanks", "kind": "storage_tank",
                       "quantity": 120, "unit": "m³"}],
   "contacts": [{"name": "Wang Li", "role": "principal", "phone": "010-555-0100"}]},
  {"ledger_id": "E-110105-0002", "name": "Bad code", "credit_code": "91110000802100433A",
   "category": "gas_station", "address": "2 Road", "division": {"district": "Chaoyang"}},
  {"ledger_id": "E-110105-0003", "name": "Bad shape", "hazard_sources": [{"quantity": "lots"}]},
  {"ledger_id": "E-110105-0001", "name": "Twice", "credit_code": "91110000802100433B",
   "category": "gas_station", "address": "1 Road", "division": {"district": "Chaoyang"}},
  {"ledger_id": "E-110105-0004", "name": "Bad hazard", "credit_code": "91110000802100433B",
   "category": "volcano", "address": "4 Road", "division": {"district": "Chaoyang"},
   "hazard_sources": [{"id": "T1", "name": "Tank", "kind": "storage_tank", "quantity": 5}]},
  {"ledger_id": "E-110106-0001", "name": "Second good", "credit_code": "91110000710926094P",
   "category": "oil_depot", "address": "Lugouqiao", "division": {"district": "Fengtai"}}
]"#;
    let report = org
        .import_enterprises_json(text, "enterprises.json", ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(report.created, ["E-110105-0001", "E-110106-0001"]);
    let named: Vec<(usize, Option<&str>)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_deref()))
        .collect();
    assert_eq!(
        named,
        [
            (9, Some("credit_code")),
            (11, Some("hazard_sources[0].quantity")),
            (12, Some("ledger_id")),
            (14, Some("category")),
            (14, Some("hazard_sources[0].unit")),
        ],
        "{:#?}",
        report.errors
    );
    assert!(
        report.errors[2].reason.contains("also on line 2"),
        "{:?}",
        report.errors
    );
    let shown = report.errors[0].to_string();
    assert!(shown.starts_with("line 9, credit_code: "), "{shown}");
    assert_eq!(f.count("SELECT COUNT(*) FROM org_enterprises").await, 2);

    // Again: create refuses what exists, skip keeps it, upsert replaces it.
    let good = &text[..text.find("  {\"ledger_id\": \"E-110105-0002\"").unwrap()];
    let good = format!("{}]", good.trim_end().trim_end_matches(','));
    let report = org
        .import_enterprises_json(&good, "enterprises.json", ImportMode::Create, LATER)
        .await
        .unwrap();
    assert_eq!(
        report.errors,
        [RowError {
            line: 2,
            field: Some("ledger_id".into()),
            reason: "enterprise E-110105-0001 already exists (import in upsert or skip mode to \
                     replace or keep it)"
                .into()
        }]
    );
    let report = org
        .import_enterprises_json(&good, "enterprises.json", ImportMode::Skip, LATER)
        .await
        .unwrap();
    assert_eq!((report.skipped.len(), report.errors.len()), (1, 0));
    let id = ledger_id("E-110105-0001");
    assert_eq!(org.get_enterprise(&id).await.unwrap().revision, 1);
    let report = org
        .import_enterprises_json(&good, "enterprises.json", ImportMode::Upsert, LATER)
        .await
        .unwrap();
    assert_eq!(report.updated, ["E-110105-0001"]);
    assert_eq!(org.get_enterprise(&id).await.unwrap().revision, 2);

    // Not an array: the whole file fails, naming it.
    let err = org
        .import_enterprises_json(
            "{\"ledger_id\": 1}",
            "enterprises.json",
            ImportMode::Create,
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("enterprises.json, line 1 column"),
        "{err}"
    );

    // Centres and units import the same way, in file order.
    let centres = r#"[
  {"id": "bj", "name": "City", "level": "city"},
  {"id": "bj-cy", "name": "Chaoyang", "level": "district", "district": "Chaoyang", "parent_id": "bj"},
  {"id": "bj-x", "name": "Orphan", "level": "street", "district": "Chaoyang", "street": "X", "parent_id": "bj-nope"}
]"#;
    let report = org
        .import_centres_json(centres, "centres.json", ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(report.created, ["bj", "bj-cy"]);
    assert_eq!(
        report
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect::<Vec<_>>(),
        [(4, Some("parent_id"))]
    );
    let units = r#"[
  {"id": "u-1", "name": "Team", "kind": "rescue_team", "centre_id": "bj-cy", "members": 12},
  {"id": "u-2", "name": "Truck", "kind": "vehicle", "centre_id": "bj-cy", "members": 3}
]"#;
    let report = org
        .import_units_json(units, "units.json", ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(report.created, ["u-1"]);
    assert_eq!(report.errors[0].line, 3);
    assert_eq!(report.errors[0].field.as_deref(), Some("members"));
}

async fn sample_ledger_loads_clean_and_again(f: &Fixture) {
    let org = f.org().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/ledger");
    let sample = SampleLedger::read_dir(&dir).unwrap();
    assert_eq!(
        sample,
        SampleLedger::embedded(),
        "the embedded copy is the file's"
    );

    let report = load_sample(&org, NOW, &sample).await.unwrap();
    let errors: Vec<String> = report
        .errors()
        .map(|(file, e)| format!("{file}: {e}"))
        .collect();
    assert!(report.is_clean(), "{errors:#?}");
    let centres = org.list_centres(&CentreFilter::default()).await.unwrap();
    assert_eq!(centres.len(), report.centres.created.len());
    assert_eq!(centres[0].level, CentreLevel::City);
    let districts: Vec<&str> = centres
        .iter()
        .filter(|c| c.level == CentreLevel::District)
        .filter_map(|c| c.district.as_deref())
        .collect();
    assert_eq!(districts.len(), 16, "{districts:?}");
    let units = org
        .list_units(&UnitFilter {
            limit: Some(1000),
            ..UnitFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(units.total as usize, report.units.created.len());
    assert!(units.items.len() >= 12);
    for kind in UnitKind::ALL {
        assert!(
            units.items.iter().any(|u| u.kind == *kind),
            "the sample has a {kind}"
        );
    }
    let enterprises = org
        .list_enterprises(&EnterpriseFilter {
            limit: Some(1000),
            ..EnterpriseFilter::default()
        })
        .await
        .unwrap();
    let n = enterprises.items.len();
    assert!((20..=40).contains(&n), "{n} enterprises");
    assert_eq!(n, report.enterprises.created.len());
    for category in EnterpriseCategory::ALL {
        assert!(
            enterprises.items.iter().any(|e| e.category == *category),
            "the sample has a {category}"
        );
    }
    let mut districts: Vec<&str> = enterprises
        .items
        .iter()
        .map(|e| e.division.district.as_str())
        .collect();
    districts.sort();
    districts.dedup();
    assert_eq!(districts.len(), 16, "{districts:?}");
    for e in &enterprises.items {
        let p = e.position.expect("every sample enterprise has a position");
        assert!(
            (115.4..=117.6).contains(&p.lon) && (39.4..=41.1).contains(&p.lat),
            "{} is outside Beijing: {p:?}",
            e.ledger_id
        );
        assert!(
            !e.contacts.is_empty() && !e.hazard_sources.is_empty(),
            "{}",
            e.ledger_id
        );
        // Every sample enterprise lies in a district with a centre.
        assert!(
            centres
                .iter()
                .any(|c| c.district.as_deref() == Some(e.division.district.as_str())),
            "{}",
            e.ledger_id
        );
    }

    // The four sites the demo's simulated cameras watch.
    for (id, category, district, street, lon, lat) in [
        (
            "E-110105-0001",
            EnterpriseCategory::GasStation,
            "Chaoyang",
            "Jiuxianqiao",
            116.4912,
            39.9703,
        ),
        (
            "E-110106-0001",
            EnterpriseCategory::OilDepot,
            "Fengtai",
            "Lugouqiao",
            116.2135,
            39.8492,
        ),
        (
            "E-110109-0001",
            EnterpriseCategory::TailingsPond,
            "Mentougou",
            "Longquan",
            116.1018,
            39.9421,
        ),
        (
            "E-110112-0001",
            EnterpriseCategory::FireworksRetail,
            "Tongzhou",
            "Yongshun",
            116.6622,
            39.9110,
        ),
    ] {
        let e = org.get_enterprise(&ledger_id(id)).await.unwrap();
        assert_eq!(e.category, category, "{id}");
        assert_eq!(e.division.district, district, "{id}");
        assert_eq!(e.division.street.as_deref(), Some(street), "{id}");
        assert_eq!(e.position, Some(Position { lon, lat }), "{id}");
    }

    // A demo started again: everything exists, nothing changes, operators' changes stay.
    org.set_availability(&unit_id("u-bj-hazmat-1"), Availability::Dispatched, LATER)
        .await
        .unwrap();
    let again = load_sample(&org, LATER, &sample).await.unwrap();
    let errors: Vec<String> = again
        .errors()
        .map(|(file, e)| format!("{file}: {e}"))
        .collect();
    assert!(again.is_clean(), "{errors:#?}");
    assert_eq!(again.created(), 0);
    assert_eq!(again.enterprises.skipped.len(), n);
    assert_eq!(
        org.get_unit(&unit_id("u-bj-hazmat-1"))
            .await
            .unwrap()
            .availability,
        Availability::Dispatched
    );
    let missing = SampleLedger::read_dir(&dir.join("nowhere")).unwrap_err();
    assert!(missing.to_string().contains("centres.json"), "{missing}");
}

async fn migrations_are_idempotent_and_share_the_table(f: &Fixture) {
    let first = f.org().await;
    first
        .create_enterprise(enterprise("E-1", "Chaoyang", "other"), NOW)
        .await
        .unwrap();
    // Opening again applies nothing and keeps the data.
    let again = f.org().await;
    assert_eq!(
        again
            .get_enterprise(&ledger_id("E-1"))
            .await
            .unwrap()
            .revision,
        1
    );
    // Another module's version in the shared table is left alone.
    let record = "INSERT INTO _sqlx_migrations \
                  (version, description, success, checksum, execution_time) \
                  VALUES (2026112901, 'someone else', TRUE, $1, 0)";
    match &f.db {
        Database::Sqlite { pool, .. } => sqlx::query(record)
            .bind(vec![0u8])
            .execute(pool)
            .await
            .map(drop),
        Database::Postgres { pool, .. } => sqlx::query(record)
            .bind(vec![0u8])
            .execute(pool)
            .await
            .map(drop),
    }
    .unwrap();
    f.org().await;
    assert_eq!(
        f.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 202611290101")
            .await,
        1
    );
}

async fn concurrent_writers_wait_instead_of_failing(f: &Fixture) {
    // Every unit write reads (its centre, its revision) before it writes: on SQLite such
    // transactions must take the write lock up front, or they fail with "database is
    // locked" when they upgrade while another connection writes.
    let org = f.org().await;
    org.create_centre(city(), NOW).await.unwrap();
    let writes = (0..24).map(|i| {
        let org = org.clone();
        async move {
            let id = format!("u-{i}");
            let input = UnitInput {
                id: Some(id.clone()),
                name: format!("Team {i}"),
                kind: "rescue_team".into(),
                centre_id: "bj".into(),
                ..UnitInput::default()
            };
            org.create_unit(input.clone(), NOW).await?;
            org.update_unit(&unit_id(&id), input, LATER, Some(1))
                .await?;
            org.set_availability(&unit_id(&id), Availability::Dispatched, LATER)
                .await?;
            org.create_enterprise(enterprise(&format!("E-{i}"), "Chaoyang", "other"), NOW)
                .await?;
            Ok::<_, OrgError>(())
        }
    });
    for result in futures_util::future::join_all(writes).await {
        result.unwrap();
    }
    let page = org
        .list_units(&UnitFilter {
            availability: Some(Availability::Dispatched),
            ..UnitFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 24);
    assert!(page.items.iter().all(|u| u.revision == 3));
}

/// The store's futures can be spawned on a multi-threaded runtime (web handlers, the
/// demo).
#[allow(dead_code)]
fn futures_are_send(org: &Organisation, sample: &SampleLedger) {
    fn send<T: Send>(_: T) {}
    send(load_sample(org, NOW, sample));
    send(org.import_enterprises_json("[]", "x", ImportMode::Create, NOW));
    send(org.import_units_json("[]", "x", ImportMode::Create, NOW));
    send(org.import_centres_json("[]", "x", ImportMode::Create, NOW));
    send(org.list_enterprises(&EnterpriseFilter::default()));
    send(org.update_centre(&centre_id("a"), CentreInput::default(), NOW, None));
}
