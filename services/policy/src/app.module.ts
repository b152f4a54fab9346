import { Module, type DynamicModule } from '@nestjs/common';
import { ConsoleController } from './admin/console.controller';
import { PolicyApiModule, type PolicyDeps } from './api.module';

export type { PolicyDeps } from './api.module';

/** The policy service: the REST API and the administrator console that is served beside it. */
@Module({})
export class PolicyAppModule {
  static forRoot(deps: PolicyDeps): DynamicModule {
    return {
      module: PolicyAppModule,
      imports: [PolicyApiModule.forRoot(deps)],
      controllers: [ConsoleController],
    };
  }
}
