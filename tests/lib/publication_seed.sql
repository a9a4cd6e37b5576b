-- A small directory for the publication tests (tests/integration/publications.sh,
-- hsds_validate.sh), written straight into the tables: two qualified providers, a children's
-- home whose address must never be published, a second home located only by its council, a
-- public family support office with vacancies, an unqualified organisation (never published),
-- Leeds's offer and one agreement. Needs `aqpd import commissioners` and `postcodes` first.
INSERT INTO organisation (id, name, kind, sector, description, website, identifiers) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'Woodside House Care Ltd', 'provider', 'private',
  'Small children''s homes in West Yorkshire, "therapeutic", staffed 24/7.',
  'https://woodside.example/care', '[{"scheme": "GB-COH", "id": "09876543"}]'),
 ('a0000000-0000-4000-8000-000000000002', 'Leeds Family Support CIC', 'provider', 'voluntary',
  '', 'https://bad host.example/', '[]'),
 ('a0000000-0000-4000-8000-000000000003', 'Never Qualified Ltd', 'provider', 'private', '', NULL, '[]');

INSERT INTO application (id, organisation_id, service_type, criteria_version, status, submitted_at, decided_at)
SELECT x.id::uuid, x.org::uuid, x.st, (SELECT max(version) FROM criteria_set), 'qualified', now(), now()
FROM (VALUES ('b0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'childrens-home'),
             ('b0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000002', 'family-support'),
             ('b0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000002', 'edge-of-care'))
     x(id, org, st);

INSERT INTO qualification (id, organisation_id, service_type, application_id, review_due, ofsted_urn) VALUES
 ('c0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'childrens-home',
  'b0000000-0000-4000-8000-000000000001', now() + interval '1 year', NULL),
 ('c0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000002', 'family-support',
  'b0000000-0000-4000-8000-000000000002', now() + interval '1 year', NULL),
 ('c0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000002', 'edge-of-care',
  'b0000000-0000-4000-8000-000000000003', now() + interval '1 year', NULL);

INSERT INTO site (id, organisation_id, name, address, postcode, address_private, la_code, lat, lon,
                  places, vacancies, vacancies_at, age_min, age_max) VALUES
 ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'Woodside House',
  '1 Secret Lane, Headingley', 'LS6 2AB', true, 'E08000035', 53.8201, -1.5802, 4, 1, now(), 8, 17),
 ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'Hidden Cottage',
  '2 Quiet Road', NULL, false, 'E08000032', 53.7901, -1.7502, 3, NULL, NULL, 10, 17),
 ('d0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000002', 'Leeds Family Hub',
  '10 Park Row, "Suite 2"', 'LS1 5AB', false, 'E08000035', 53.7990, -1.5470, 40, 12, now(), 0, 18);

INSERT INTO offer (commissioner_code, service_type, price_pence, price_unit, specification)
VALUES ('E08000035', 'family-support', 4500, 'session', 'Family support sessions for Leeds.');
INSERT INTO local_application (id, qualification_id, organisation_id, commissioner_code, service_type,
                               answers, results, status, decided_at)
VALUES ('e0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000002',
        'a0000000-0000-4000-8000-000000000002', 'E08000035', 'family-support', '{}', '[]',
        'accepted', now());
INSERT INTO agreement (id, local_application_id, qualification_id, organisation_id, commissioner_code,
                       service_type, start_price_pence, price_unit)
VALUES ('f0000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000001',
        'c0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000002', 'E08000035',
        'family-support', 4500, 'session');
