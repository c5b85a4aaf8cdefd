import { slot, type SchemaPair } from "./pair";

const base = `CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE book (id int PRIMARY KEY, author_id int REFERENCES author (id), title text, pages int, price numeric(8,2));`;

/** Views, options, view chains, and views over columns that change. */
export const viewPairs: SchemaPair[] = [
  ...slot("views", "definition", {
    prelude: base,
    variants: {
      none: ``,
      simple: `CREATE VIEW active_author AS SELECT id, name FROM author WHERE active;`,
      joined: `CREATE VIEW active_author AS SELECT a.id, a.name, count(b.id) AS books FROM author a LEFT JOIN book b ON b.author_id = a.id WHERE a.active GROUP BY a.id, a.name;`,
      narrowed: `CREATE VIEW active_author AS SELECT id FROM author WHERE active;`,
    },
  }),
  ...slot("views", "column-order", {
    prelude: base,
    variants: {
      ab: `CREATE VIEW book_card AS SELECT id, title FROM book;`,
      ba: `CREATE VIEW book_card AS SELECT title, id FROM book;`,
      abc: `CREATE VIEW book_card AS SELECT id, title, pages FROM book;`,
      typed: `CREATE VIEW book_card AS SELECT id, title::varchar(50) AS title FROM book;`,
    },
  }),
  ...slot("views", "options", {
    prelude: base,
    variants: {
      plain: `CREATE VIEW cheap_book AS SELECT * FROM book WHERE price < 10;`,
      check: `CREATE VIEW cheap_book AS SELECT * FROM book WHERE price < 10 WITH LOCAL CHECK OPTION;`,
      barrier: `CREATE VIEW cheap_book WITH (security_barrier = true) AS SELECT * FROM book WHERE price < 10;`,
      cascaded: `CREATE VIEW cheap_book AS SELECT * FROM book WHERE price < 10 WITH CASCADED CHECK OPTION;`,
      // Not in name order: PostgreSQL keeps options in the order they were written.
      several: `CREATE VIEW cheap_book WITH (security_barrier = true, check_option = local) AS SELECT * FROM book WHERE price < 10;`,
    },
  }),
  ...slot("views", "chain", {
    prelude: base,
    variants: {
      two: `CREATE VIEW v1 AS SELECT id, title, price FROM book;\nCREATE VIEW v2 AS SELECT id, title FROM v1 WHERE price > 5;`,
      three: `CREATE VIEW v1 AS SELECT id, title, price FROM book;\nCREATE VIEW v2 AS SELECT id, title FROM v1 WHERE price > 5;\nCREATE VIEW v3 AS SELECT count(*) AS n FROM v2;`,
      changed_base: `CREATE VIEW v1 AS SELECT id, title, price, pages FROM book WHERE pages > 0;\nCREATE VIEW v2 AS SELECT id, title FROM v1 WHERE price > 5;`,
      changed_top: `CREATE VIEW v1 AS SELECT id, title, price FROM book;\nCREATE VIEW v2 AS SELECT id, upper(title) AS title FROM v1;`,
    },
  }),
  ...slot("views", "column-type-under-view", {
    variants: {
      int: `CREATE TABLE reading (id int PRIMARY KEY, value int, unit text);\nCREATE VIEW reading_v AS SELECT id, value, unit FROM reading;`,
      bigint: `CREATE TABLE reading (id int PRIMARY KEY, value bigint, unit text);\nCREATE VIEW reading_v AS SELECT id, value, unit FROM reading;`,
      numeric: `CREATE TABLE reading (id int PRIMARY KEY, value numeric(10,2), unit varchar(8));\nCREATE VIEW reading_v AS SELECT id, value, unit FROM reading;`,
    },
  }),
  ...slot("views", "dropped-column-under-view", {
    variants: {
      wide: `CREATE TABLE profile (id int PRIMARY KEY, bio text, avatar text);\nCREATE VIEW profile_v AS SELECT id, bio FROM profile;`,
      narrow: `CREATE TABLE profile (id int PRIMARY KEY, bio text);\nCREATE VIEW profile_v AS SELECT id, bio FROM profile;`,
      noview: `CREATE TABLE profile (id int PRIMARY KEY, avatar text);`,
    },
  }),
  ...slot("views", "schema-views", {
    prelude: `CREATE SCHEMA report;\n${base}`,
    variants: {
      a: `CREATE VIEW report.sales AS SELECT author_id, sum(price) AS total FROM book GROUP BY author_id;`,
      b: `CREATE VIEW report.sales AS SELECT author_id, sum(price) AS total, avg(pages) AS avg_pages FROM book GROUP BY author_id;\nCREATE VIEW report.top AS SELECT * FROM report.sales ORDER BY total DESC LIMIT 10;`,
    },
  }),
  ...slot("views", "recursive-union", {
    prelude: `CREATE TABLE category (id int PRIMARY KEY, parent int, name text);`,
    variants: {
      flat: `CREATE VIEW category_tree AS SELECT id, parent, name, 1 AS depth FROM category WHERE parent IS NULL;`,
      recursive: `CREATE RECURSIVE VIEW category_tree (id, parent, name, depth) AS SELECT id, parent, name, 1 FROM category WHERE parent IS NULL UNION ALL SELECT c.id, c.parent, c.name, t.depth + 1 FROM category c JOIN category_tree t ON c.parent = t.id;`,
      values: `CREATE VIEW category_tree AS SELECT * FROM (VALUES (1, NULL::int, 'root'::text, 1)) AS v(id, parent, name, depth);`,
    },
  }),
  ...slot("views", "table-replaced-by-view", {
    variants: {
      table: `CREATE TABLE src (id int PRIMARY KEY, v text);\nCREATE TABLE summary (id int, v text);`,
      view: `CREATE TABLE src (id int PRIMARY KEY, v text);\nCREATE VIEW summary AS SELECT id, v FROM src;`,
    },
  }),
];
