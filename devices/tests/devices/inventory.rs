//! The camera inventory against real databases: every test runs on an SQLite file and on
//! the PostgreSQL server that `cargo xtask test` provides, each PostgreSQL test in a
//! schema of its own (`watchpost_command::storage::testing`, `on_both_backends!`).

use std::sync::{Arc, Mutex};

use watchpost_command::Database;
use watchpost_command::storage::testing::TestDb as Fixture;
use watchpost_config::{Secret, SecretUrl};
use watchpost_devices::inventory::{
    Camera, CameraFilter, CameraId, CameraInput, CredentialCipher, Credentials, CredentialsChange,
    Division, ImportMode, Inventory, InventoryError, Position, RowError, RtspTransport,
    SiteCategory, parse_csv,
};

const NOW: i64 = 1_764_374_400_000;
const PASSWORD: &str = "Pa55-w0rd-never-shown";

/// The test database's stores.
trait Open {
    async fn inventory(&self) -> Inventory;
}

impl Open for Fixture {
    async fn inventory(&self) -> Inventory {
        Inventory::open(self.db.clone(), cipher(1))
            .await
            .expect("open inventory")
    }
}

watchpost_command::on_both_backends!(
    "inventory",
    #[tokio::test],
    crud_round_trip,
    filters_and_pagination,
    revision_precondition,
    csv_import_mixes_good_and_bad_rows,
    csv_header_problems_import_nothing,
    json_import_mixes_good_and_bad_rows,
    password_never_leaks,
    wrong_key_and_moved_blobs_fail_typed,
    migrations_are_idempotent_and_share_the_table,
    numbers_are_assigned_fixed_and_unique,
    numbers_after_99999_fill_the_lowest_gap,
    csv_number_column,
    migration_numbers_existing_cameras_in_creation_order,
);

watchpost_command::on_both_backends!(
    "inventory",
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)],
    concurrent_creates_get_distinct_numbers,
);

fn cipher(seed: u8) -> CredentialCipher {
    CredentialCipher::from_key(&[seed; 32]).unwrap()
}

fn id(text: &str) -> CameraId {
    CameraId::parse(text).unwrap()
}

fn input(id: Option<&str>, name: &str) -> CameraInput {
    CameraInput {
        id: id.map(str::to_owned),
        name: name.to_owned(),
        category: "gas_station".to_owned(),
        division: Division {
            district: "North".to_owned(),
            street: Some("Elm".to_owned()),
        },
        main_url: Some(SecretUrl::new("rtsp://192.0.2.10:554/main")),
        ..CameraInput::default()
    }
}

fn with_credentials(mut input: CameraInput) -> CameraInput {
    input.credentials = CredentialsChange::Set(Credentials {
        username: "admin".to_owned(),
        password: Secret::new(PASSWORD),
    });
    input
}

async fn crud_round_trip(f: &Fixture) {
    let inv = f.inventory().await;
    let mut full = with_credentials(input(Some("gas-01"), "Gas station 01 — pump island"));
    full.enterprise_id = Some("91110000MA01".to_owned());
    full.position = Some(Position {
        lon: 116.397_128,
        lat: 39.916_527,
    });
    full.vendor = Some("Hikvision".to_owned());
    full.model = Some("DS-2CD2043".to_owned());
    full.firmware = Some("V5.7.3".to_owned());
    full.onvif_url = Some(SecretUrl::new("http://192.0.2.10/onvif/device_service"));
    full.sub_url = Some(SecretUrl::new("rtsp://192.0.2.10:554/sub"));
    full.transport = Some("udp".to_owned());
    full.tags = vec!["perimeter".to_owned(), "night".to_owned()];
    full.enabled = Some(false);

    let created = inv.create(full.clone(), NOW).await.unwrap();
    let expected = Camera {
        id: id("gas-01"),
        number: 1,
        name: "Gas station 01 — pump island".to_owned(),
        category: SiteCategory::GasStation,
        enterprise_id: Some("91110000MA01".to_owned()),
        division: Division {
            district: "North".to_owned(),
            street: Some("Elm".to_owned()),
        },
        position: Some(Position {
            lon: 116.397_128,
            lat: 39.916_527,
        }),
        vendor: Some("Hikvision".to_owned()),
        model: Some("DS-2CD2043".to_owned()),
        firmware: Some("V5.7.3".to_owned()),
        onvif_url: Some("http://192.0.2.10/onvif/device_service".to_owned()),
        main_url: Some("rtsp://192.0.2.10:554/main".to_owned()),
        sub_url: Some("rtsp://192.0.2.10:554/sub".to_owned()),
        transport: RtspTransport::Udp,
        credentials_set: true,
        tags: vec!["perimeter".to_owned(), "night".to_owned()],
        enabled: false,
        created_ms: NOW,
        updated_ms: NOW,
        revision: 1,
    };
    assert_eq!(created, expected);
    assert_eq!(inv.get(&id("gas-01")).await.unwrap(), expected);
    let creds = inv.credentials(&id("gas-01")).await.unwrap().unwrap();
    assert_eq!(creds.username, "admin");
    assert_eq!(creds.password.expose(), PASSWORD);

    // Same id again: conflict, the stored camera untouched.
    let err = inv
        .create(input(Some("gas-01"), "Other"), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InventoryError::Conflict { id } if id.as_str() == "gas-01"),
        "{err}"
    );
    assert_eq!(inv.get(&id("gas-01")).await.unwrap(), expected);

    // A generated id.
    let generated = inv.create(input(None, "Depot"), NOW).await.unwrap();
    let text = generated.id.as_str();
    assert!(
        text.len() == 13
            && text.starts_with('c')
            && text[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{text}"
    );
    assert!(!generated.credentials_set);
    assert_eq!(generated.number, 2);
    assert_eq!(inv.credentials(&generated.id).await.unwrap(), None);

    // Update without `credentials` or `number`: kept. Replacement of everything else.
    let mut change = CameraInput::from(&created);
    change.number = None;
    change.name = "Renamed".to_owned();
    change.tags = vec!["night".to_owned(), "gate".to_owned()];
    change.position = None;
    change.sub_url = None;
    let updated = inv
        .update(&id("gas-01"), change.clone(), NOW + 1000, None)
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.tags, ["night", "gate"]);
    assert_eq!(updated.position, None);
    assert_eq!(updated.sub_url, None);
    assert_eq!((updated.created_ms, updated.updated_ms), (NOW, NOW + 1000));
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.number, 1);
    assert!(updated.credentials_set);
    assert_eq!(inv.get(&id("gas-01")).await.unwrap(), updated);
    assert_eq!(
        inv.credentials(&id("gas-01"))
            .await
            .unwrap()
            .unwrap()
            .password
            .expose(),
        PASSWORD
    );
    // Tags are replaced in the filter index too.
    let by_tag = |tag: &str| CameraFilter {
        tag: Some(tag.to_owned()),
        ..CameraFilter::default()
    };
    assert_eq!(inv.list(&by_tag("perimeter")).await.unwrap().total, 0);
    assert_eq!(inv.list(&by_tag("gate")).await.unwrap().total, 1);

    // Set new credentials, then clear them.
    change.credentials = CredentialsChange::Set(Credentials {
        username: "viewer".to_owned(),
        password: Secret::new(""),
    });
    let set = inv
        .update(&id("gas-01"), change.clone(), NOW + 2000, None)
        .await
        .unwrap();
    assert!(set.credentials_set);
    let creds = inv.credentials(&id("gas-01")).await.unwrap().unwrap();
    assert_eq!(
        (creds.username.as_str(), creds.password.expose()),
        ("viewer", "")
    );
    change.credentials = CredentialsChange::Clear;
    let cleared = inv
        .update(&id("gas-01"), change, NOW + 3000, None)
        .await
        .unwrap();
    assert!(!cleared.credentials_set);
    assert_eq!(cleared.revision, 4);
    assert_eq!(inv.credentials(&id("gas-01")).await.unwrap(), None);

    // Invalid input: every field at once, nothing written.
    let mut bad = input(Some("gas-01"), "");
    bad.category = "bakery".to_owned();
    let err = inv.update(&id("gas-01"), bad, NOW, None).await.unwrap_err();
    let InventoryError::Invalid { errors } = &err else {
        panic!("{err}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "category"]);
    assert!(errors[1].reason.contains("gas_station, oil_depot"), "{err}");
    assert_eq!(inv.get(&id("gas-01")).await.unwrap().revision, 4);

    // Missing cameras.
    let missing = id("nope");
    for err in [
        inv.get(&missing).await.unwrap_err(),
        inv.update(&missing, input(None, "x"), NOW, None)
            .await
            .unwrap_err(),
        inv.delete(&missing).await.unwrap_err(),
        inv.credentials(&missing).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, InventoryError::NotFound { id } if id == &missing),
            "{err}"
        );
        assert_eq!(err.to_string(), "camera nope not found");
    }

    // Delete: gone, tags too.
    inv.delete(&id("gas-01")).await.unwrap();
    assert!(matches!(
        inv.get(&id("gas-01")).await,
        Err(InventoryError::NotFound { .. })
    ));
    let tags = f
        .texts("SELECT tag FROM camera_tags WHERE camera_id = 'gas-01'")
        .await;
    assert!(tags.is_empty(), "{tags:?}");
    let page = inv.list(&CameraFilter::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items, [generated]);
}

async fn filters_and_pagination(f: &Fixture) {
    let inv = f.inventory().await;
    let districts = ["North", "South", "East"];
    let categories = [
        SiteCategory::GasStation,
        SiteCategory::OilDepot,
        SiteCategory::FireworksRetail,
    ];
    for i in 0..12 {
        let mut cam = input(Some(&format!("cam-{i:02}")), &format!("Site {i} Pump"));
        cam.division = Division {
            district: districts[i % 3].to_owned(),
            street: (i % 2 == 0).then(|| "Elm".to_owned()),
        };
        cam.category = categories[i % 3].as_str().to_owned();
        cam.enterprise_id = Some(format!("ent-{}", i % 4));
        cam.tags = if i % 4 == 0 {
            vec!["night".to_owned(), "50%_off".to_owned()]
        } else {
            vec!["day".to_owned()]
        };
        cam.enabled = Some(i != 5);
        // Along a line eastwards from 116.0 E, 0.01 degrees apart; cam-11 has no position.
        cam.position = (i != 11).then_some(Position {
            lon: 116.0 + 0.01 * i as f64,
            lat: 39.9,
        });
        inv.create(cam, NOW + i as i64).await.unwrap();
    }
    let ids = |page: &watchpost_devices::inventory::CameraPage| -> Vec<String> {
        page.items.iter().map(|c| c.id.to_string()).collect()
    };
    let list = |filter: CameraFilter| {
        let inv = inv.clone();
        async move { inv.list(&filter).await.unwrap() }
    };

    let all = list(CameraFilter::default()).await;
    assert_eq!(all.total, 12);
    assert_eq!(
        ids(&all),
        (0..12).map(|i| format!("cam-{i:02}")).collect::<Vec<_>>()
    );

    let north = list(CameraFilter {
        district: Some("North".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&north), ["cam-00", "cam-03", "cam-06", "cam-09"]);
    let north_elm = list(CameraFilter {
        district: Some("North".into()),
        street: Some("Elm".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&north_elm), ["cam-00", "cam-06"]);
    let depots = list(CameraFilter {
        category: Some(SiteCategory::OilDepot),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&depots), ["cam-01", "cam-04", "cam-07", "cam-10"]);
    let ent = list(CameraFilter {
        enterprise_id: Some("ent-1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&ent), ["cam-01", "cam-05", "cam-09"]);
    let night = list(CameraFilter {
        tag: Some("night".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&night), ["cam-00", "cam-04", "cam-08"]);
    let disabled = list(CameraFilter {
        enabled: Some(false),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&disabled), ["cam-05"]);
    let boxed = list(CameraFilter {
        min_lon: Some(116.025),
        max_lon: Some(116.05),
        min_lat: Some(39.8),
        max_lat: Some(39.9),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(&boxed),
        ["cam-03", "cam-04", "cam-05"],
        "edges included"
    );
    let err = inv
        .list(&CameraFilter {
            min_lon: Some(116.1),
            max_lon: Some(116.0),
            min_lat: Some(39.8),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let InventoryError::Invalid { errors } = err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["max_lat"], "a bounding box needs all four bounds");
    let err = inv
        .list(&CameraFilter {
            min_lon: Some(116.1),
            max_lon: Some(116.0),
            min_lat: Some(39.8),
            max_lat: Some(91.0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_lat"), "{err}");
    // q: case-insensitive in the name, substring of the id; LIKE wildcards are literal.
    let q = |text: &str| CameraFilter {
        q: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(q("site 1")).await),
        ["cam-01", "cam-10", "cam-11"]
    );
    assert_eq!(ids(&list(q("PUMP")).await).len(), 12);
    assert_eq!(ids(&list(q("m-0")).await).len(), 10);
    assert_eq!(list(q("%")).await.total, 0);
    assert_eq!(list(q("_")).await.total, 0);
    // Filters combine.
    let combined = list(CameraFilter {
        district: Some("North".into()),
        tag: Some("night".into()),
        enabled: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&combined), ["cam-00"]);

    // Pages, with the total of all matches.
    let page = |limit, offset| CameraFilter {
        limit: Some(limit),
        offset: Some(offset),
        ..Default::default()
    };
    let second = list(page(5, 5)).await;
    assert_eq!(second.total, 12);
    assert_eq!(
        ids(&second),
        ["cam-05", "cam-06", "cam-07", "cam-08", "cam-09"]
    );
    assert_eq!(ids(&list(page(5, 10)).await), ["cam-10", "cam-11"]);
    assert_eq!(list(page(5, 20)).await.items, []);
    let count_only = list(page(0, 0)).await;
    assert_eq!((count_only.total, count_only.items.len()), (12, 0));
    let err = inv.list(&page(1001, 0)).await.unwrap_err();
    assert!(
        matches!(&err, InventoryError::Invalid { errors } if errors[0].field == "limit"),
        "{err}"
    );

    let enabled = inv.all_enabled().await.unwrap();
    assert_eq!(enabled.len(), 11);
    assert!(
        enabled
            .iter()
            .all(|c| c.enabled && c.id.as_str() != "cam-05")
    );
}

async fn revision_precondition(f: &Fixture) {
    let inv = f.inventory().await;
    let cam = inv.create(input(Some("rev"), "Rev"), NOW).await.unwrap();
    assert_eq!(cam.revision, 1);
    let mut change = CameraInput::from(&cam);
    change.name = "Rev 2".into();
    let second = inv
        .update(&cam.id, change.clone(), NOW + 1, Some(1))
        .await
        .unwrap();
    assert_eq!(second.revision, 2);

    // A writer that still holds revision 1 loses, and nothing changes.
    change.name = "Stale".into();
    let err = inv
        .update(&cam.id, change.clone(), NOW + 2, Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::PreconditionFailed {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "camera rev is at revision 2, not the expected 1"
    );
    assert_eq!(inv.get(&cam.id).await.unwrap(), second);

    // Without a precondition the update goes through.
    assert_eq!(
        inv.update(&cam.id, change.clone(), NOW + 3, None)
            .await
            .unwrap()
            .revision,
        3
    );

    // An id in the body must be the camera's own.
    change.id = Some("other".into());
    let err = inv.update(&cam.id, change, NOW, None).await.unwrap_err();
    match err {
        InventoryError::Invalid { errors } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "id");
            assert!(errors[0].reason.contains("never changes"));
        }
        other => panic!("{other}"),
    }
}

/// `(line, field)` of each error.
fn located(errors: &[RowError]) -> Vec<(usize, Option<&str>)> {
    errors
        .iter()
        .map(|e| (e.line, e.field.as_deref()))
        .collect()
}

async fn csv_import_mixes_good_and_bad_rows(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(input(Some("existing"), "Existing"), NOW)
        .await
        .unwrap();
    let text = format!(
        "\u{FEFF}id,name,category,district,street,lon,lat,main_url,username,password,tags,enabled\r\n\
         good-1,\"Pump island, north\",gas_station,North,Elm,116.4,39.9,rtsp://192.0.2.1/main,admin,{PASSWORD},night;gate,true\r\n\
         bad-cat,Bad category,bakery,North,,,,rtsp://192.0.2.2/main,,,,\r\n\
         bad-lon,Bad lon,oil_depot,North,,east,39.9,rtsp://192.0.2.3/main,admin,{PASSWORD},,\r\n\
         no-name,,oil_depot,North,,,,rtsp://192.0.2.4/main,,,,\r\n\
         url-creds,URL creds,other,South,,,,rtsp://admin:{PASSWORD}@192.0.2.5/main,,,,\r\n\
         good-2,\"Quoted \"\"two\"\"\",tailings_pond,South,,,,rtsp://192.0.2.6/main,,,,false\r\n\
         multi,\"Two-line\r\nname\",other,South,,,,rtsp://192.0.2.7/main,,,,\r\n\
         good-1,Duplicate,other,South,,,,rtsp://192.0.2.7/main,,,,\r\n\
         existing,Already there,other,South,,,,rtsp://192.0.2.8/main,,,,\r\n\
         ,Generated id,fireworks_retail,East,,120.1,30.2,rtsp://192.0.2.9/main,,,,\r\n"
    );
    let report = inv.import_csv(&text, ImportMode::Create, NOW).await;
    assert_eq!(
        located(&report.errors),
        [
            (3, Some("category")),
            (4, Some("lon")),
            (5, Some("name")),
            (6, Some("main_url")),
            (8, Some("name")),
            (10, Some("id")),
            (11, Some("id")),
        ],
        "{:#?}",
        report.errors
    );
    let reasons: Vec<&str> = report.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons[0].contains("\"bakery\"") && reasons[0].contains("fireworks_retail"));
    assert!(reasons[1].contains("\"east\""));
    assert_eq!(reasons[2], "required");
    assert!(reasons[3].contains("user name or password"));
    assert!(reasons[4].contains("control characters"), "{}", reasons[4]);
    assert!(reasons[5].contains("also on line 2"), "{}", reasons[5]);
    assert!(reasons[6].contains("already exists"), "{}", reasons[6]);

    // The good rows landed; the duplicate did not overwrite the first.
    assert_eq!(report.created.len(), 3);
    assert_eq!(report.created[0].as_str(), "good-1");
    assert_eq!(report.created[1].as_str(), "good-2");
    assert!(report.updated.is_empty());
    let good = inv.get(&id("good-1")).await.unwrap();
    assert_eq!(good.name, "Pump island, north");
    assert_eq!(good.tags, ["night", "gate"]);
    assert_eq!(
        good.position,
        Some(Position {
            lon: 116.4,
            lat: 39.9
        })
    );
    assert_eq!(
        inv.credentials(&good.id)
            .await
            .unwrap()
            .unwrap()
            .password
            .expose(),
        PASSWORD
    );
    let two = inv.get(&id("good-2")).await.unwrap();
    assert_eq!(two.name, "Quoted \"two\"");
    assert!(!two.enabled);
    let generated = inv.get(&report.created[2]).await.unwrap();
    assert_eq!(generated.category, SiteCategory::FireworksRetail);
    // A file without a `number` column: numbers assigned in file order.
    assert_eq!((good.number, two.number, generated.number), (2, 3, 4));
    assert_eq!(inv.get(&id("existing")).await.unwrap().name, "Existing");
    assert_eq!(inv.list(&CameraFilter::default()).await.unwrap().total, 4);

    // Upsert: existing ids are replaced; empty credential columns keep the credentials.
    let text = "id,name,category,district,main_url\n\
                good-1,Renamed,gas_station,North,rtsp://192.0.2.1/main\n\
                fresh,Fresh,other,West,rtsp://192.0.2.10/main\n";
    let report = inv.import_csv(text, ImportMode::Upsert, NOW + 1).await;
    assert_eq!(report.errors, []);
    assert_eq!(report.updated, [id("good-1")]);
    assert_eq!(report.created, [id("fresh")]);
    let renamed = inv.get(&id("good-1")).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.revision), ("Renamed", 2));
    assert!(renamed.credentials_set);
    assert_eq!(renamed.number, 2, "an upsert without number keeps it");
    assert_eq!(inv.get(&id("fresh")).await.unwrap().number, 5);
}

async fn csv_header_problems_import_nothing(f: &Fixture) {
    let inv = f.inventory().await;
    let text = "name,category,district,main_url,colour\n\
                A,other,North,rtsp://192.0.2.1/a,red\n";
    let report = inv.import_csv(text, ImportMode::Create, NOW).await;
    assert_eq!(located(&report.errors), [(1, Some("colour"))]);
    assert!(
        report.errors[0]
            .reason
            .starts_with("unknown column \"colour\"")
    );
    assert!(report.created.is_empty());
    assert_eq!(inv.list(&CameraFilter::default()).await.unwrap().total, 0);

    // parse_csv alone gives the same, and the rows of a good file.
    let (rows, errors) = parse_csv(text);
    assert!(rows.is_empty());
    assert_eq!(errors, report.errors);
}

async fn json_import_mixes_good_and_bad_rows(f: &Fixture) {
    let inv = f.inventory().await;
    let text = format!(
        r#"[
  {{"id": "j-1", "name": "JSON one", "category": "oil_depot",
    "division": {{"district": "East", "street": "Dock"}},
    "position": {{"lon": 121.5, "lat": 31.2}},
    "onvif_url": "http://192.0.2.20/onvif/device_service",
    "credentials": {{"username": "admin", "password": "{PASSWORD}"}},
    "tags": ["harbour"]}},
  {{"id": "j-2", "name": "Bad lon", "category": "other", "division": {{"district": "East"}},
    "main_url": "rtsp://192.0.2.21/main", "position": {{"lon": 500, "lat": 1}},
    "credentials": {{"username": "admin", "password": "{PASSWORD}"}}}},
  {{"id": "j-3", "name": "Wrong type", "category": "other", "division": {{"district": "East"}},
    "main_url": "rtsp://192.0.2.22/main", "enabled": "yes"}},
  {{"id": "j-4", "name": "Unknown", "colour": "red"}},
  {{"id": "j-1", "name": "Duplicate", "category": "other", "division": {{"district": "East"}},
    "main_url": "rtsp://192.0.2.23/main"}},
  {{"id": "j-5", "name": "Creds in URL", "category": "other",
    "division": {{"district": "East"}},
    "main_url": "rtsp://admin:{PASSWORD}@192.0.2.24/main"}},
  {{"name": "No id", "category": "fireworks_warehouse", "division": {{"district": "West"}},
    "main_url": "rtsp://192.0.2.25/main", "transport": "udp"}}
]"#
    );
    let report = inv
        .import_json(&text, ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(
        located(&report.errors),
        [
            (8, Some("position.lon")),
            (11, Some("enabled")),
            (13, Some("colour")),
            (14, Some("id")),
            (16, Some("main_url")),
        ],
        "{:#?}",
        report.errors
    );
    assert_eq!(report.created.len(), 2);
    assert_eq!(report.created[0], id("j-1"));
    let one = inv.get(&id("j-1")).await.unwrap();
    assert_eq!(one.division.street.as_deref(), Some("Dock"));
    assert!(one.credentials_set && one.main_url.is_none());
    let generated = inv.get(&report.created[1]).await.unwrap();
    assert_eq!(generated.transport, RtspTransport::Udp);

    // Not an array: one typed error, nothing imported.
    let err = inv
        .import_json("{\"id\": \"x\"}", ImportMode::Create, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::JsonSyntax { line: 1, .. }),
        "{err}"
    );
    assert_eq!(inv.list(&CameraFilter::default()).await.unwrap().total, 2);
}

/// Collects everything logged while it is installed (this thread only).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buffer = buffer.clone();
        move || LogWriter(buffer.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(tracing::Level::TRACE)
        .json()
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn password_never_leaks(f: &Fixture) {
    let (logs, guard) = capture_logs();
    let inv = f.inventory().await;
    let mut seen: Vec<String> = Vec::new();
    let mut show = |label: &str, text: String| seen.push(format!("{label}: {text}"));

    let input = with_credentials(input(Some("secret-cam"), "Secret cam"));
    show("input", format!("{input:?}"));
    let created = inv.create(input.clone(), NOW).await.unwrap();
    show("created", serde_json::to_string(&created).unwrap());
    show("created debug", format!("{created:?}"));
    let again = CameraInput::from(&created);
    let updated = inv
        .update(&created.id, with_credentials(again), NOW + 1, Some(1))
        .await
        .unwrap();
    show("updated", serde_json::to_string(&updated).unwrap());
    show(
        "get",
        serde_json::to_string(&inv.get(&created.id).await.unwrap()).unwrap(),
    );
    show(
        "list",
        serde_json::to_string(&inv.list(&CameraFilter::default()).await.unwrap()).unwrap(),
    );
    show(
        "enabled",
        serde_json::to_string(&inv.all_enabled().await.unwrap()).unwrap(),
    );
    show("inventory", format!("{inv:?}"));
    let creds = inv.credentials(&created.id).await.unwrap().unwrap();
    assert_eq!(creds.password.expose(), PASSWORD);
    show("credentials debug", format!("{creds:?}"));

    // Errors about a camera that carries the password.
    let mut bad = with_credentials(input.clone());
    bad.category = PASSWORD.to_owned();
    bad.main_url = Some(SecretUrl::new(format!(
        "rtsp://admin:{PASSWORD}@192.0.2.1/x"
    )));
    bad.sub_url = Some(SecretUrl::new(format!(
        "rtsp//admin:{PASSWORD}@192.0.2.1/x"
    )));
    bad.tags = vec![format!("{PASSWORD};x")];
    let errors = [
        inv.create(bad.clone(), NOW).await.unwrap_err(),
        inv.update(&created.id, bad.clone(), NOW, None)
            .await
            .unwrap_err(),
        inv.create(input.clone(), NOW).await.unwrap_err(),
        inv.update(&created.id, input.clone(), NOW, Some(99))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        show("error", format!("{err} / {err:?}"));
    }
    assert!(matches!(errors[0], InventoryError::Invalid { .. }));

    // Import reports: bad rows that carry the password, in every column it could land in.
    let csv = format!(
        "id,name,category,district,lon,main_url,username,password\n\
         a,A,{PASSWORD},North,,rtsp://192.0.2.1/a,admin,{PASSWORD}\n\
         b,B,other,North,{PASSWORD},rtsp://192.0.2.1/b,admin,{PASSWORD}\n\
         c,C,other,North,,rtsp://admin:{PASSWORD}@192.0.2.1/c,,\n\
         d,D,other,North,,rtsp://192.0.2.1/d,,{PASSWORD}\n\
         secret-cam,E,other,North,,rtsp://192.0.2.1/e,admin,{PASSWORD}\n\
         f,F,other,North,,\"rtsp://192.0.2.1/f\"{PASSWORD},admin,{PASSWORD}\n"
    );
    let report = inv.import_csv(&csv, ImportMode::Create, NOW).await;
    // Row b also lacks the lat that goes with its lon: seven errors on six rows.
    assert_eq!(report.errors.len(), 7, "{:#?}", report.errors);
    assert!(report.created.is_empty());
    show("csv report", serde_json::to_string(&report).unwrap());
    show("csv report debug", format!("{report:?}"));
    for e in &report.errors {
        show("csv row error", e.to_string());
    }
    let json = format!(
        r#"[{{"name": "x", "credentials": "admin:{PASSWORD}"}},
            {{"name": "y", "category": "{PASSWORD}", "credentials": {{"username": "u", "password": "{PASSWORD}"}}}},
            {{"name": "z", "credentials": {{"username": "u", "password": "{PASSWORD}", "x": 1}}}},
            {{"name": "w", "position": {{"lon": "{PASSWORD}", "lat": 1}}, "credentials": {{"username": "u", "password": "{PASSWORD}"}}}}]"#
    );
    let report = inv
        .import_json(&json, ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(report.errors.len(), 4 + 2, "{:#?}", report.errors);
    show("json report", serde_json::to_string(&report).unwrap());

    drop(guard);
    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("camera created"), "{logged}");
    assert!(logged.contains("camera import"), "{logged}");
    show("logs", logged);

    for text in &seen {
        assert!(!text.contains(PASSWORD), "the password leaked in {text}");
    }
    assert!(seen.iter().any(|t| t.contains("credentials_set\":true")));

    // At rest: sealed, not in clear anywhere in the row.
    let stored = f
        .texts("SELECT credentials FROM cameras WHERE id = 'secret-cam'")
        .await;
    let sealed = stored[0].clone().unwrap();
    assert!(sealed.starts_with("v1:"), "{sealed}");
    for column in [
        "id",
        "name",
        "category",
        "district",
        "main_url",
        "transport",
        "tags",
        "credentials",
    ] {
        for value in f
            .texts(&format!("SELECT {column} FROM cameras"))
            .await
            .into_iter()
            .flatten()
        {
            assert!(!value.contains(PASSWORD), "{column}: {value}");
            assert!(!value.contains("admin"), "{column}: {value}");
        }
    }
}

async fn wrong_key_and_moved_blobs_fail_typed(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(with_credentials(input(Some("a"), "A")), NOW)
        .await
        .unwrap();
    inv.create(input(Some("b"), "B"), NOW).await.unwrap();

    // Another key: typed error naming the camera; the camera itself still reads.
    let other = Inventory::open(f.db.clone(), cipher(2)).await.unwrap();
    let err = other.credentials(&id("a")).await.unwrap_err();
    assert!(matches!(&err, InventoryError::Decrypt { id } if id.as_str() == "a"));
    assert_eq!(
        err.to_string(),
        "credentials of camera a cannot be decrypted: wrong key?"
    );
    assert!(other.get(&id("a")).await.unwrap().credentials_set);
    assert_eq!(other.credentials(&id("b")).await.unwrap(), None);

    // A sealed value copied to another camera's row does not open there.
    f.execute("UPDATE cameras SET credentials = (SELECT credentials FROM cameras WHERE id = 'a') WHERE id = 'b'")
        .await;
    let err = inv.credentials(&id("b")).await.unwrap_err();
    assert!(
        matches!(&err, InventoryError::Decrypt { id } if id.as_str() == "b"),
        "{err}"
    );
    assert!(inv.credentials(&id("a")).await.unwrap().is_some());
}

async fn migrations_are_idempotent_and_share_the_table(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(input(Some("kept"), "Kept"), NOW).await.unwrap();
    // Another module's migration recorded in the same table (as the command module's
    // migrator will) does not stop the inventory from opening.
    let record = "INSERT INTO _sqlx_migrations \
                  (version, description, success, checksum, execution_time) \
                  VALUES (20261201000000, 'command module', TRUE, $1, 0)";
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
    let again = f.inventory().await;
    assert_eq!(again.get(&id("kept")).await.unwrap().name, "Kept");
    let versions = f
        .texts("SELECT CAST(version AS TEXT) FROM _sqlx_migrations ORDER BY version")
        .await;
    assert_eq!(
        versions,
        [
            Some("2026112901".to_owned()),
            Some("2026112902".to_owned()),
            Some("2026112903".to_owned()),
            Some("20261201000000".to_owned())
        ]
    );
}

fn numbered(id: Option<&str>, name: &str, number: i64) -> CameraInput {
    CameraInput {
        number: Some(number),
        ..input(id, name)
    }
}

fn number_taken(err: &InventoryError) -> Option<(u32, Option<&str>)> {
    match err {
        InventoryError::NumberTaken { number, holder } => {
            Some((*number, holder.as_ref().map(CameraId::as_str)))
        }
        _ => None,
    }
}

async fn numbers_are_assigned_fixed_and_unique(f: &Fixture) {
    let inv = f.inventory().await;
    // Assigned: one above the highest in use.
    let a = inv.create(input(Some("a"), "A"), NOW).await.unwrap();
    let b = inv.create(input(Some("b"), "B"), NOW).await.unwrap();
    assert_eq!((a.number, b.number), (1, 2));
    // Explicit, leaving a gap; the next assigned one follows the highest.
    let c = inv
        .create(numbered(Some("c"), "C", 100), NOW)
        .await
        .unwrap();
    assert_eq!(c.number, 100);
    let d = inv.create(input(Some("d"), "D"), NOW).await.unwrap();
    assert_eq!(d.number, 101);
    assert_eq!(inv.get(&id("c")).await.unwrap().number, 100);

    // Another camera's number: refused, naming the holder; nothing written.
    let err = inv
        .create(numbered(Some("e"), "E", 2), NOW)
        .await
        .unwrap_err();
    assert_eq!(number_taken(&err), Some((2, Some("b"))), "{err}");
    assert_eq!(
        err.to_string(),
        "camera number 2 is already used by camera b"
    );
    assert!(matches!(
        inv.get(&id("e")).await,
        Err(InventoryError::NotFound { .. })
    ));

    // Out of range: a field error on `number`.
    let err = inv
        .create(numbered(Some("e"), "E", 100_000), NOW)
        .await
        .unwrap_err();
    let InventoryError::Invalid { errors } = &err else {
        panic!("{err}")
    };
    assert_eq!(errors[0].field, "number");

    // Update: absent keeps, its own number is fine, another's is refused, a free one moves.
    let kept = inv
        .update(&id("b"), input(None, "B2"), NOW + 1, None)
        .await
        .unwrap();
    assert_eq!((kept.number, kept.name.as_str()), (2, "B2"));
    let same = inv
        .update(&id("b"), numbered(None, "B3", 2), NOW + 2, None)
        .await
        .unwrap();
    assert_eq!(same.number, 2);
    let err = inv
        .update(&id("b"), numbered(None, "B4", 100), NOW + 3, Some(3))
        .await
        .unwrap_err();
    assert_eq!(number_taken(&err), Some((100, Some("c"))), "{err}");
    let after = inv.get(&id("b")).await.unwrap();
    assert_eq!(
        (after.number, after.revision, after.name.as_str()),
        (2, 3, "B3")
    );
    let moved = inv
        .update(&id("b"), numbered(None, "B5", 7), NOW + 4, Some(3))
        .await
        .unwrap();
    assert_eq!((moved.number, moved.revision), (7, 4));
    // Number 2 is free again and can be given explicitly.
    let e = inv.create(numbered(Some("e"), "E", 2), NOW).await.unwrap();
    assert_eq!(e.number, 2);

    // Deleting cameras never renumbers the others; the next assigned number follows the
    // highest still in use (the deleted 1 is not reused).
    inv.delete(&id("a")).await.unwrap();
    inv.delete(&id("d")).await.unwrap();
    let numbers: Vec<(String, u32)> = inv
        .list(&CameraFilter::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| (c.id.to_string(), c.number))
        .collect();
    assert_eq!(
        numbers,
        [
            ("b".to_owned(), 7),
            ("c".to_owned(), 100),
            ("e".to_owned(), 2)
        ]
    );
    let g = inv.create(input(Some("g"), "G"), NOW).await.unwrap();
    assert_eq!(g.number, 101);

    // The unique index backs the store up.
    let dup = "UPDATE cameras SET number = 100 WHERE id = 'g'";
    let refused = match &f.db {
        Database::Sqlite { pool, .. } => sqlx::query(dup).execute(pool).await.map(drop),
        Database::Postgres { pool, .. } => sqlx::query(dup).execute(pool).await.map(drop),
    };
    assert!(refused.is_err(), "the unique index accepted a duplicate");
}

async fn numbers_after_99999_fill_the_lowest_gap(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(numbered(Some("one"), "1", 1), NOW)
        .await
        .unwrap();
    inv.create(numbered(Some("two"), "2", 2), NOW)
        .await
        .unwrap();
    inv.create(numbered(Some("four"), "4", 4), NOW)
        .await
        .unwrap();
    inv.create(numbered(Some("top"), "Top", 99_999), NOW)
        .await
        .unwrap();
    let three = inv.create(input(Some("three"), "3"), NOW).await.unwrap();
    assert_eq!(three.number, 3);
    let five = inv.create(input(Some("five"), "5"), NOW).await.unwrap();
    assert_eq!(five.number, 5);
    inv.delete(&id("one")).await.unwrap();
    let again = inv.create(input(None, "1 again"), NOW).await.unwrap();
    assert_eq!(again.number, 1);
}

async fn concurrent_creates_get_distinct_numbers(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(numbered(Some("first"), "First", 10), NOW)
        .await
        .unwrap();
    const CREATES: usize = 24;
    let tasks: Vec<_> = (0..CREATES)
        .map(|i| {
            let inv = inv.clone();
            tokio::spawn(async move {
                // Every fourth one asks for a number of its own (below 10, which assigned
                // numbers never take), racing the assigners.
                let mut camera = input(Some(&format!("cam-{i:02}")), &format!("Camera {i}"));
                if i % 4 == 0 {
                    camera.number = Some(1 + (i / 4) as i64);
                }
                inv.create(camera, NOW).await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap().number);
    }
    let stored: Vec<u32> = inv
        .list(&CameraFilter::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| c.id.as_str() != "first")
        .map(|c| c.number)
        .collect();
    assert_eq!(stored, numbers, "the answers are what was stored");
    let mut distinct = numbers.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), CREATES, "{numbers:?}");
    for (i, n) in numbers.iter().enumerate() {
        if i % 4 == 0 {
            assert_eq!(*n as usize, 1 + i / 4);
        } else {
            assert!((11..=10 + CREATES as u32).contains(n), "camera {i} got {n}");
        }
    }
}

async fn csv_number_column(f: &Fixture) {
    let inv = f.inventory().await;
    inv.create(numbered(Some("existing"), "Existing", 5), NOW)
        .await
        .unwrap();
    let text = "id,number,name,category,district,main_url\n\
                n-1,12,Twelve,gas_station,North,rtsp://192.0.2.1/main\n\
                n-2,,Assigned,gas_station,North,rtsp://192.0.2.2/main\n\
                n-3,5,Taken,gas_station,North,rtsp://192.0.2.3/main\n\
                n-4,twelve,Words,gas_station,North,rtsp://192.0.2.4/main\n\
                n-5,0,Zero,gas_station,North,rtsp://192.0.2.5/main\n\
                n-6,12,Same as line 2,gas_station,North,rtsp://192.0.2.6/main\n";
    let report = inv.import_csv(text, ImportMode::Create, NOW).await;
    assert_eq!(
        located(&report.errors),
        [
            (4, Some("number")),
            (5, Some("number")),
            (6, Some("number")),
            (7, Some("number"))
        ],
        "{:#?}",
        report.errors
    );
    assert!(
        report.errors[0].reason.contains("camera existing"),
        "{:?}",
        report.errors[0]
    );
    assert!(report.errors[1].reason.contains("\"twelve\""));
    assert!(report.errors[2].reason.contains("1 to 99999"));
    assert!(report.errors[3].reason.contains("camera n-1"));
    assert_eq!(report.created, [id("n-1"), id("n-2")]);
    assert_eq!(inv.get(&id("n-1")).await.unwrap().number, 12);
    assert_eq!(inv.get(&id("n-2")).await.unwrap().number, 13);

    // Upsert: a number changes it, an empty one keeps it; the file's own camera may
    // keep its number.
    let text = "number,id,name,category,district,main_url\n\
                12,n-1,Still twelve,gas_station,North,rtsp://192.0.2.1/main\n\
                30,n-2,Thirty,gas_station,North,rtsp://192.0.2.2/main\n\
                ,existing,Kept,other,South,rtsp://192.0.2.8/main\n";
    let report = inv.import_csv(text, ImportMode::Upsert, NOW + 1).await;
    assert_eq!(report.errors, []);
    assert_eq!(report.updated, [id("n-1"), id("n-2"), id("existing")]);
    let numbers: Vec<u32> = inv
        .list(&CameraFilter::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.number)
        .collect();
    assert_eq!(numbers, [5, 12, 30]);

    // JSON imports name the field the same way.
    let json = r#"[{"id": "j-1", "number": 30, "name": "J", "category": "other",
                    "division": {"district": "East"}, "main_url": "rtsp://192.0.2.9/main"}]"#;
    let report = inv
        .import_json(json, ImportMode::Create, NOW)
        .await
        .unwrap();
    assert_eq!(located(&report.errors), [(1, Some("number"))]);
    assert!(report.errors[0].reason.contains("camera n-2"));
}

async fn migration_numbers_existing_cameras_in_creation_order(f: &Fixture) {
    // The schema as it was before camera numbers.
    static BEFORE: &[watchpost_command::storage::EmbeddedMigration] = &[
        (
            2026112901,
            "camera inventory",
            include_str!("../../migrations/2026112901_camera_inventory.sql"),
        ),
        (
            2026112902,
            "camera position index",
            include_str!("../../migrations/2026112902_camera_position_index.sql"),
        ),
    ];
    watchpost_command::storage::migrate(&f.db, BEFORE)
        .await
        .unwrap();
    // Inserted out of creation order; two in the same millisecond (ordered by id).
    for (camera, created) in [("zulu", 3), ("alpha", 1), ("mike", 2), ("bravo", 2)] {
        f.execute(&format!(
            "INSERT INTO cameras (id, name, category, district, transport, tags, enabled, \
             created_ms, updated_ms, revision) VALUES ('{camera}', '{camera}', 'other', \
             'North', 'tcp', '[]', TRUE, {created}, {created}, 1)"
        ))
        .await;
    }
    let inv = f.inventory().await;
    let numbers: Vec<(String, u32)> = inv
        .list(&CameraFilter::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| (c.id.to_string(), c.number))
        .collect();
    assert_eq!(
        numbers,
        [
            ("alpha".to_owned(), 1),
            ("bravo".to_owned(), 2),
            ("mike".to_owned(), 3),
            ("zulu".to_owned(), 4)
        ]
    );
    let next = inv.create(input(Some("new"), "New"), NOW).await.unwrap();
    assert_eq!(next.number, 5);
    let err = inv
        .create(numbered(Some("dup"), "Dup", 4), NOW)
        .await
        .unwrap_err();
    assert_eq!(number_taken(&err), Some((4, Some("zulu"))), "{err}");
}
