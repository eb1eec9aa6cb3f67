// The bundler turns a CSS import into the stylesheet the built index.html links.
declare module '*.css';
