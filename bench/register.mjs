// Lets plain `node` run the TypeScript benchmark (and examples) through tsx's ESM loader.
import { register } from "tsx/esm/api";

register();
