-- 0006_urn_claims: one Ofsted registration backs at most one live qualification per service
-- type. The register names a setting's owner but not its company number, so the criteria
-- cannot prove that an applicant owns the URN it claims; this at least stops a second
-- organisation from qualifying on a URN another already holds (its submit gets 409), and the
-- conflict is visible to the board through the audit log.
CREATE UNIQUE INDEX qualification_urn_claim ON qualification (ofsted_urn, service_type)
    WHERE ofsted_urn IS NOT NULL AND status IN ('active', 'suspended');
