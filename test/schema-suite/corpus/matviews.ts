import { slot, type SchemaPair } from "./pair";

const base = `CREATE TABLE sale (id int PRIMARY KEY, region text NOT NULL, amount numeric NOT NULL, sold_on date NOT NULL);`;

/** Materialized views, their indexes, WITH NO DATA, and chains through them. */
export const matviewPairs: SchemaPair[] = [
  ...slot("matviews", "definition", {
    prelude: base,
    variants: {
      none: ``,
      by_region: `CREATE MATERIALIZED VIEW sale_total AS SELECT region, sum(amount) AS total FROM sale GROUP BY region;`,
      by_month: `CREATE MATERIALIZED VIEW sale_total AS SELECT region, date_trunc('month', sold_on) AS month, sum(amount) AS total FROM sale GROUP BY 1, 2;`,
      no_data: `CREATE MATERIALIZED VIEW sale_total AS SELECT region, sum(amount) AS total FROM sale GROUP BY region WITH NO DATA;`,
    },
  }),
  ...slot("matviews", "indexes", {
    prelude: `${base}\nCREATE MATERIALIZED VIEW region_total AS SELECT region, sum(amount) AS total, count(*) AS n FROM sale GROUP BY region;`,
    variants: {
      none: ``,
      unique: `CREATE UNIQUE INDEX region_total_region_idx ON region_total (region);`,
      two: `CREATE UNIQUE INDEX region_total_region_idx ON region_total (region);\nCREATE INDEX region_total_total_idx ON region_total (total DESC);`,
    },
  }),
  ...slot("matviews", "over-view", {
    prelude: base,
    variants: {
      a: `CREATE VIEW big_sale AS SELECT * FROM sale WHERE amount > 100;\nCREATE MATERIALIZED VIEW big_sale_n AS SELECT region, count(*) AS n FROM big_sale GROUP BY region;`,
      b: `CREATE VIEW big_sale AS SELECT * FROM sale WHERE amount > 1000;\nCREATE MATERIALIZED VIEW big_sale_n AS SELECT region, count(*) AS n FROM big_sale GROUP BY region;`,
      c: `CREATE VIEW big_sale AS SELECT * FROM sale WHERE amount > 100;\nCREATE MATERIALIZED VIEW big_sale_n AS SELECT region, count(*) AS n, max(amount) AS top FROM big_sale GROUP BY region;`,
    },
  }),
  ...slot("matviews", "column-under-matview", {
    variants: {
      numeric: `CREATE TABLE price (id int PRIMARY KEY, value numeric(8,2));\nCREATE MATERIALIZED VIEW price_stats AS SELECT max(value) AS top FROM price;`,
      bigger: `CREATE TABLE price (id int PRIMARY KEY, value numeric(12,2));\nCREATE MATERIALIZED VIEW price_stats AS SELECT max(value) AS top FROM price;`,
    },
  }),
  ...slot("matviews", "storage", {
    prelude: base,
    variants: {
      plain: `CREATE MATERIALIZED VIEW sale_days AS SELECT DISTINCT sold_on FROM sale;`,
      fill: `CREATE MATERIALIZED VIEW sale_days WITH (fillfactor = 50) AS SELECT DISTINCT sold_on FROM sale;`,
    },
  }),
  ...slot("matviews", "view-to-matview", {
    prelude: base,
    variants: {
      view: `CREATE VIEW recent_sale AS SELECT * FROM sale WHERE sold_on > date '2024-01-01';`,
      matview: `CREATE MATERIALIZED VIEW recent_sale AS SELECT * FROM sale WHERE sold_on > date '2024-01-01';`,
    },
  }),
];
