/** A rename the user declared; the engine never guesses renames. */
export type Rename =
  | { readonly kind: "table"; readonly schema: string; readonly from: string; readonly to: string }
  | { readonly kind: "column"; readonly schema: string; readonly table: string; readonly from: string; readonly to: string };
