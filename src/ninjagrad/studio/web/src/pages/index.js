// The studio's pages, in tab order. A page is a module exporting
//   { id, title, session, mount(panel, studio) -> { update(state) } }
// (see docs/studio.md). To add one: write pages/<name>.js and list it here.
import expression from "./expression.js";
import moons from "./moons.js";
import tensor from "./tensor.js";
import makemore from "./makemore.js";

export const PAGES = [expression, moons, tensor, makemore];
