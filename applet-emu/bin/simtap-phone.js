#!/usr/bin/env node
// Launcher for the `simtap-phone` bin: committed so that `npm install` can link it before the workspace build
// (root `prepare`) has produced dist/. The program itself is src/cli/simtap-phone.ts, built by tsup.
import '../dist/cli/simtap-phone.js';
