import { Controller, Get, Param, Res } from '@nestjs/common';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { ApiError } from '../common/api-error';
import { openApiDocument } from './openapi';

/**
 * The console (tools/console, React + PatternFly, built by Vite in `npm run build`) lands in this package's
 * dist/console: index.html and assets/ with content-hashed names.
 */
const CONSOLE_DIR = join(__dirname, '..', 'console');
const TYPES: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.woff2', 'font/woff2'],
]);

/**
 * Every file the build produced, by its URL path under /console/, listed once at start. A Map, not an
 * object literal: a lookup of "__proto__", "constructor" or "toString" must find nothing; a name not
 * listed (a traversal, an encoded slash, a file added later) is a 404 and never reaches the file system.
 */
function listFiles(): ReadonlyMap<string, string> {
  const files = new Map<string, string>();
  const add = (name: string) => {
    const type = TYPES.get(extname(name));
    if (type) files.set(name, type);
  };
  if (existsSync(join(CONSOLE_DIR, 'index.html'))) add('index.html');
  const assets = join(CONSOLE_DIR, 'assets');
  if (existsSync(assets)) for (const f of readdirSync(assets)) add(`assets/${f}`);
  return files;
}

// Scripts and styles only from this origin: an injected string can never run as code.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

@Controller()
export class ConsoleController {
  private readonly files = listFiles();
  private readonly cache = new Map<string, Buffer>();

  @Get()
  root(@Res() res: ServerResponse): void {
    res.writeHead(302, { Location: '/console/' });
    res.end();
  }

  @Get('console')
  index(@Res() res: ServerResponse): void {
    this.file('index.html', res);
  }

  @Get('console/:file')
  top(@Param('file') file: string, @Res() res: ServerResponse): void {
    this.file(file, res);
  }

  @Get('console/assets/:file')
  asset(@Param('file') file: string, @Res() res: ServerResponse): void {
    this.file(`assets/${file}`, res);
  }

  /** The OpenAPI 3.1 description of this API (public: it describes, it reveals no data). */
  @Get('v1/openapi.json')
  openapi(): Promise<unknown> {
    return openApiDocument();
  }

  private file(name: string, res: ServerResponse): void {
    const type = this.files.get(name);
    if (!type) throw new ApiError('not_found', 'no such file');
    let body = this.cache.get(name);
    if (!body) {
      body = readFileSync(join(CONSOLE_DIR, name));
      this.cache.set(name, body);
    }
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      // index.html names the current assets; the assets' names change with their content.
      'Cache-Control': name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
    });
    res.end(body);
  }
}
