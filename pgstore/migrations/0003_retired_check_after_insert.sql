-- The check that a resource's name is not retired moves from before the
-- insert or rename to after it. Before, it ran before the insert waited
-- on the unique name index for a transaction deleting or renaming a
-- resource of that name; when that transaction committed, the insert went
-- on with the name it had just retired. After the row is written, the
-- check runs with a snapshot taken then, which sees that retirement, so
-- one statement can create a resource safely: no check of its own after
-- it is needed.
DROP TRIGGER resources_name_not_retired ON resources;
CREATE TRIGGER resources_name_not_retired AFTER INSERT OR UPDATE OF name ON resources
    FOR EACH ROW EXECUTE FUNCTION refuse_retired_name();
