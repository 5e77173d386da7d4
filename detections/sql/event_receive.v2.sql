-- The webhook's intake in one round trip (detections.services.event_receive): take the member's
-- intake advisory lock, recognise a repeated delivery id or a repeat of the member's latest event
-- for the field, otherwise insert the event and its pending row. Each statement sees the rows
-- committed before the lock was granted, so concurrent redeliveries are recognised as duplicates.
-- Version 2 (migration 0006): the pending row. A change is a new version in a file of its own,
-- installed by a new migration, whose reverse installs the version before it.
CREATE OR REPLACE FUNCTION captpathfinder_event_receive(
    p_lock_namespace integer, p_event_type text, p_delivery_id text, p_user_id text, p_username text,
    p_field text, p_field_role text, p_value text, p_old_value text, p_payload jsonb, p_key text,
    OUT status text, OUT event_id bigint
) LANGUAGE plpgsql AS $$
DECLARE
    latest_key text;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_user_id));
    IF p_delivery_id IS NOT NULL THEN
        SELECT id INTO event_id FROM detections_rawevent WHERE delivery_id = p_delivery_id;
        IF FOUND THEN
            status := 'duplicate';
            RETURN;
        END IF;
    END IF;
    SELECT id, idempotency_key INTO event_id, latest_key FROM detections_rawevent
        WHERE user_id = p_user_id AND field = p_field ORDER BY id DESC LIMIT 1;
    IF FOUND AND latest_key = p_key THEN
        status := 'duplicate';
        RETURN;
    END IF;
    INSERT INTO detections_rawevent (event_type, delivery_id, user_id, username, field, field_role, value,
                                     old_value, payload, idempotency_key, received_at, outcome)
        VALUES (p_event_type, p_delivery_id, p_user_id, p_username, p_field, p_field_role, p_value,
                p_old_value, p_payload, p_key, now(), '')
        ON CONFLICT (delivery_id) DO NOTHING
        RETURNING id INTO event_id;
    IF NOT FOUND THEN
        -- The same delivery id stored meanwhile under another user id: still a repeat.
        SELECT id INTO event_id FROM detections_rawevent WHERE delivery_id = p_delivery_id;
        status := 'duplicate';
        RETURN;
    END IF;
    INSERT INTO detections_pendingevent (event_id, user_id, received_at) VALUES (event_id, p_user_id, now());
    status := 'accepted';
END $$;
