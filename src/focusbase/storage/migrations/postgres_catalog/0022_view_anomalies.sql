-- Anomalies of saved views: a view's total across providers is stored with provider_id '' and the
-- providers whose rows its series holds, so a key limited to providers sees it only when it may see all of
-- them (as the explorer shows it the view). NULL for every other anomaly (its provider is provider_id).
ALTER TABLE anomalies ADD COLUMN scope_providers TEXT;  -- JSON array of provider ids
