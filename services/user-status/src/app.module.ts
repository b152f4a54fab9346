import { Module, type DynamicModule } from '@nestjs/common';
import { APP_DEPS, type AppDeps } from './app.tokens';
import { CacheController } from './http/cache.controller';
import { HealthController } from './http/health.controller';

@Module({})
export class AppModule {
  static forRoot(deps: AppDeps): DynamicModule {
    return {
      module: AppModule,
      controllers: [HealthController, CacheController],
      providers: [{ provide: APP_DEPS, useValue: deps }],
    };
  }
}
