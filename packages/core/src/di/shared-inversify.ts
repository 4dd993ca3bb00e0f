// The only module that imports inversify and reflect-metadata: every plugin reaches DI through
// `@mitosis/core/di`, so one copy of inversify exists at run time.
import 'reflect-metadata';
export * from 'inversify';
